"""`expctl ui`: the dashboard's JSON, pages and guards through Starlette's TestClient (no browser).

The fixture output folder (`make_outputs`) is written file by file through `expctl.runs.layout`:
completed runs with predictions, a failed run, a crashed run (status `running`, its process gone),
a running run (its process: this test), and a run whose name and spec keys hold HTML.
tests/test_ui_browser.py drives the same folder in headless Chromium.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.runs import layout
from expctl.runs.atomic import atomic_write_json
from expctl.runs.store import process_start

pytest.importorskip("starlette", reason="the ui extra is not installed (uv sync --extra ui)")
pytest.importorskip("httpx2", reason="starlette's TestClient needs httpx2 (the dev group)")

from starlette.testclient import TestClient
from uiserver import start_ui

from expctl.ui import payloads, safety
from expctl.ui.app import TOKEN_COOKIE, create_app

ROOT = Path(__file__).resolve().parents[1]

SCRIPT_NAME = "<script>window.__xss=1</script>"
IMG_KEY = '<img src=x onerror="window.__xss=2">'

BASE_SPEC: dict[str, Any] = {
    "name": "quick",
    "seed": 1,
    "data": {"source": "jets", "n_samples": 2000},
    "model": {"type": "mlp", "hidden": [32], "dropout": 0.1},
    "train": {"optimizer": {"name": "adam", "learning_rate": 0.001}, "epochs": 5},
}

#: id -> (status, name, spec changes, separation of the scores, rejection_at_50, auc)
RUNS: dict[str, tuple[str, str, dict[str, Any], float | None, float | None, float | None]] = {
    "20260101-000000-base-aaaaaa": ("completed", "base", {}, 1.0, 20.0, 0.76),
    "20260102-000000-wide-bbbbbb": (
        "completed",
        "wide",
        {"model": {"dropout": 0.3}},
        2.5,
        60.0,
        0.96,
    ),
    "20260103-000000-bad-cccccc": ("failed", "bad", {"model": {"dropout": 0.5}}, None, None, None),
    "20260104-000000-dead-dddddd": (
        "crashed",
        "dead",
        {"model": {"dropout": 0.2}},
        None,
        None,
        None,
    ),
    "20260105-000000-live-eeeeee": (
        "running",
        "live",
        {"model": {"dropout": 0.4}},
        None,
        None,
        None,
    ),
    "20260106-000000-xss-ffffff": (
        "completed",
        SCRIPT_NAME,
        {"model": {"dropout": 0.1, IMG_KEY: "<b>bold</b>"}},
        1.5,
        40.0,
        0.86,
    ),
}
BEST_BY_REJECTION = "20260102-000000-wide-bbbbbb"
LIVE = "20260105-000000-live-eeeeee"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def history_rows(epochs: int) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "loss": 0.7 - 0.05 * e,
            "val_loss": 0.72 - 0.04 * e,
            "auc": 0.6 + 0.03 * e,
            "val_auc": 0.58 + 0.03 * e,
            "learning_rate": 0.001,
        }
        for e in range(1, epochs + 1)
    ]


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey PNG, made by hand (no imaging library)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_run(folder: Path, run_id: str) -> Path:
    """One run of RUNS as `expctl run` leaves it (for its status), written through `layout`."""
    state, name, changes, separation, rejection, auc = RUNS[run_id]
    path = folder / run_id
    (path / layout.PLOTS).mkdir(parents=True)
    spec = _merge(BASE_SPEC, {"name": name, **changes})
    (path / layout.SPEC).write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    status: dict[str, Any] = {"status": state, "run_id": run_id, "name": name, "error": None}
    training = {"epochs_trained": 5, "best_epoch": 4, "stopped_epoch": None}
    if state in ("running", "crashed"):
        pid = os.getpid()
        started = process_start(pid) if state == "running" else "another-boot:1"
        status.update(status="running", pid=pid, host=socket.gethostname(), process_start=started)
    else:
        status.update(duration_s=12.5, training=training)
    if state == "failed":
        status["error"] = "ValueError: the loss became NaN <at epoch 2>"
    atomic_write_json(path / layout.STATUS, status)
    atomic_write_json(path / layout.ENVIRONMENT, {"python": "3.11", "versions": {"keras": "3.8.0"}})
    epochs = {"completed": 5, "failed": 2, "crashed": 3, "running": 2}[state]
    layout.write_history(path / layout.HISTORY, history_rows(epochs))
    if state == "completed":
        assert separation is not None
        rng = np.random.default_rng(7)
        y = np.repeat([0, 1], 500)
        score = 1 / (1 + np.exp(-(rng.normal(size=1000) + separation * (y - 0.5))))
        layout.write_predictions(
            path / layout.PREDICTIONS,
            {"y_true": y, "y_score": score, "classes": np.array(["background", "signal"])},
        )
        metrics = {
            "loss": 0.4,
            "accuracy": 0.8,
            "auc": auc,
            "rejection_at_50": rejection,
            "rejection_at_90": rejection / 10 if rejection else None,
            **training,
        }
        atomic_write_json(path / layout.METRICS, metrics)
        layout.plot_path(path, "overtraining.png").write_bytes(tiny_png())
    return path


def make_outputs(folder: Path) -> Path:
    """The fixture output folder with every run of RUNS."""
    folder.mkdir(parents=True, exist_ok=True)
    for run_id in RUNS:
        make_run(folder, run_id)
    return folder


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    return make_outputs(tmp_path / "outputs")


@pytest.fixture
def client(outputs: Path) -> TestClient:
    return TestClient(create_app(outputs), base_url="http://127.0.0.1:8765")


def tree_digest(folder: Path) -> str:
    """A digest of every file's path, size and content under `folder` (to prove nothing wrote)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the runs table


def test_runs_table_lists_every_state_with_compare_cells(client: TestClient) -> None:
    answer = client.get("/api/runs")
    assert answer.status_code == 200
    data = answer.json()
    states = {row["ids"][0]: row["status"] for row in data["rows"]}
    assert states == {
        "20260101-000000-base-aaaaaa": "completed",
        "20260102-000000-wide-bbbbbb": "completed",
        "20260103-000000-bad-cccccc": "failed",
        "20260104-000000-dead-dddddd": "crashed",
        "20260105-000000-live-eeeeee": "running",
        "20260106-000000-xss-ffffff": "completed",
    }
    names = [c["name"] for c in data["columns"]]
    assert names[:3] == ["id", "name", "status"]
    # the differing spec keys (dropout, the HTML key), then compare's terminal metrics
    assert "model.dropout" in names and f"model.{IMG_KEY}" in names
    assert "model.hidden" not in names
    assert "rejection_at_50" in names and "auc" in names
    assert data["n_read"] == 6
    auc = names.index("auc")
    wide = next(r for r in data["rows"] if r["ids"] == [BEST_BY_REJECTION])
    assert wide["cells"][auc] == "0.9600"  # the text table's 4 decimals


def test_sort_by_rejection_puts_the_best_first_and_flips(client: TestClient) -> None:
    data = client.get("/api/runs", params={"sort": "rejection_at_50"}).json()
    order = [row["ids"][0] for row in data["rows"]]
    assert order[:3] == [
        BEST_BY_REJECTION,
        "20260106-000000-xss-ffffff",
        "20260101-000000-base-aaaaaa",
    ]
    assert data["sort"] == {"key": "rejection_at_50", "descending": True}
    column = next(c for c in data["columns"] if c["name"] == "rejection_at_50")
    assert column["better"] == "higher" and column["first"] == "rejection_at_50"
    worst_first = client.get("/api/runs", params={"sort": "+rejection_at_50"}).json()
    assert worst_first["rows"][0]["ids"] == ["20260101-000000-base-aaaaaa"]
    loss = client.get("/api/runs", params={"sort": "loss"}).json()
    assert loss["sort"] == {"key": "loss", "descending": False}  # lower is better


def test_filters_are_compares_and_bad_ones_say_why(client: TestClient) -> None:
    data = client.get(
        "/api/runs", params=[("filter", "status=completed"), ("filter", "auc>0.8")]
    ).json()
    assert sorted(r["ids"][0] for r in data["rows"]) == [
        BEST_BY_REJECTION,
        "20260106-000000-xss-ffffff",
    ]
    bad = client.get("/api/runs", params={"filter": "dropout~1"})
    assert bad.status_code == 400
    assert bad.json()["option"] == "filter" and "KEY OP VALUE" in bad.json()["error"]
    unknown = client.get("/api/runs", params={"filter": "nope=1"})
    assert unknown.status_code == 400 and "unknown key 'nope'" in unknown.json()["error"]
    sort = client.get("/api/runs", params={"sort": "nope"})
    assert sort.status_code == 400 and sort.json()["option"] == "sort"


def test_new_runs_appear_and_finished_runs_are_served_from_memory(outputs: Path) -> None:
    source = payloads.RunsSource(outputs.resolve())
    first = payloads.runs_table(source)
    assert len(first["rows"]) == 6
    cached = dict(source._cache)
    # completed, failed and crashed runs are kept (a crashed run changes only when it is resumed,
    # which rewrites status.json); running ones are read every time
    assert sorted(p.name for p in cached) == [
        "20260101-000000-base-aaaaaa",
        "20260102-000000-wide-bbbbbb",
        "20260103-000000-bad-cccccc",
        "20260104-000000-dead-dddddd",
        "20260106-000000-xss-ffffff",
    ]
    new = outputs / "20260107-000000-new-123456"
    RUNS[new.name] = ("completed", "new", {"model": {"dropout": 0.6}}, 2.0, 30.0, 0.9)
    try:
        make_run(outputs, new.name)
    finally:
        del RUNS[new.name]
    second = payloads.runs_table(source)
    assert [r["ids"][0] for r in second["rows"]][-1] == new.name
    # a finished run rewritten (same size is not enough: the mtime changed) is read again
    metrics = outputs / BEST_BY_REJECTION / layout.METRICS
    data = json.loads(metrics.read_text())
    data["auc"] = 0.97
    metrics.write_text(json.dumps(data))
    os.utime(metrics, ns=(1, 1))
    third = payloads.runs_table(source, filters=["auc>0.965"])
    assert [r["ids"][0] for r in third["rows"]] == [BEST_BY_REJECTION]


def test_json_answers_carry_an_etag_and_304(client: TestClient) -> None:
    first = client.get("/api/runs")
    etag = first.headers["etag"]
    again = client.get("/api/runs", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


# ------------------------------------------------------------------------------------- a run


def test_run_detail_has_spec_environment_metrics_and_history(client: TestClient) -> None:
    data = client.get("/api/run", params={"id": BEST_BY_REJECTION}).json()
    assert data["state"] == "completed" and data["name"] == "wide"
    assert ["model.dropout", "0.3"] in data["spec"]
    assert ["versions.keras", "3.8.0"] in data["environment"]
    assert ["rejection_at_50", 60.0, "higher"] in data["metrics"]
    assert data["history"]["columns"][:3] == ["epoch", "loss", "val_loss"]
    assert len(data["history"]["rows"]) == 5
    assert data["has_predictions"] is True
    failed = client.get("/api/run", params={"id": "20260103-000000-bad-cccccc"}).json()
    assert failed["state"] == "failed" and "NaN" in failed["error"]


def test_run_state_follows_history_as_it_is_written(client: TestClient, outputs: Path) -> None:
    state = client.get("/api/run/state", params={"id": LIVE}).json()
    assert state["state"] == "running" and len(state["history"]["rows"]) == 2
    layout.write_history(outputs / LIVE / layout.HISTORY, history_rows(3))
    state = client.get("/api/run/state", params={"id": LIVE}).json()
    assert [row[0] for row in state["history"]["rows"]] == [1, 2, 3]
    dead = client.get("/api/run/state", params={"id": "20260104-000000-dead-dddddd"}).json()
    assert dead["state"] == "crashed"


# -------------------------------------------------------------------------------- overlays


def test_roc_overlay_uses_the_roc_view(client: TestClient, outputs: Path) -> None:
    from expctl.evaluation import roc_auc
    from expctl.views.roc import roc_curves

    ids = [BEST_BY_REJECTION, "20260101-000000-base-aaaaaa", "20260103-000000-bad-cccccc"]
    data = client.get("/api/roc", params=[("run", i) for i in ids]).json()
    assert [c["run"] for c in data["curves"]] == ids[:2]
    (warning,) = data["warnings"]  # the failed run has no predictions
    assert "20260103-000000-bad-cccccc" in warning
    expected = roc_curves([(outputs / BEST_BY_REJECTION, "x")])[0]
    assert data["curves"][0]["auc"] == pytest.approx(expected.auc)
    assert len(data["curves"][0]["fpr"]) == len(expected.fpr)  # small: not thinned
    # the wider separation ranks better
    assert data["curves"][0]["auc"] > data["curves"][1]["auc"] > 0.5
    arrays = np.load(outputs / BEST_BY_REJECTION / layout.PREDICTIONS)
    assert data["curves"][0]["auc"] == pytest.approx(roc_auc(arrays["y_true"], arrays["y_score"]))


def test_long_curves_are_thinned_for_the_browser(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    run = folder / "20260101-000000-big-abcdef"
    run.mkdir(parents=True)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50_000)
    layout.write_predictions(
        run / layout.PREDICTIONS,
        {"y_true": y, "y_score": rng.random(50_000) + 0.3 * y, "classes": np.array(["b", "s"])},
    )
    (curve,) = payloads.roc_overlay([run])["curves"]
    assert len(curve["fpr"]) == payloads.MAX_CURVE_POINTS
    assert curve["fpr"][0] == 0.0 and curve["fpr"][-1] == 1.0 and curve["tpr"][-1] == 1.0
    assert all(a <= b for a, b in zip(curve["fpr"], curve["fpr"][1:], strict=False))


@pytest.mark.parametrize("reference", [None, 1])
def test_rejection_ratios_equal_the_cli_ratio_panel(
    client: TestClient, outputs: Path, reference: int | None
) -> None:
    from expctl.plots import rejection_ratio_figure
    from expctl.views.roc import roc_curves

    ids = [BEST_BY_REJECTION, "20260101-000000-base-aaaaaa"]
    params = [("run", i) for i in ids]
    if reference is not None:
        params.append(("reference", ids[reference]))
    ratio = client.get("/api/roc", params=params).json()["ratio"]
    ref = reference or 0
    other = 1 - ref
    assert ratio["reference"] == ids[ref]
    assert [c["run"] for c in ratio["curves"]] == [ids[other]]  # the reference has no line
    # the panel `expctl roc A B --hep` draws: its line at 1, then the other run's ratio
    curves = roc_curves([(outputs / i, i) for i in ids])
    figure = rejection_ratio_figure([c.drawn() for c in curves], reference=ref)
    _, line = figure.axes[1].get_lines()
    expected = np.asarray(line.get_ydata(), dtype=float)
    got = np.array([np.nan if r is None else r for r in ratio["curves"][0]["ratio"]])
    np.testing.assert_array_equal(np.asarray(line.get_xdata()), ratio["efficiency"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isfinite(got).sum() > 500  # most of the grid is covered
    np.testing.assert_array_equal(got[np.isfinite(got)], expected[np.isfinite(expected)])
    # the wider separation rejects more: its ratio to the other is above 1 at eps_S = 0.5
    at_half = got[len(got) // 2]
    assert (at_half > 1) if ref == 1 else (at_half < 1)


def test_ratio_reference_must_be_a_run_of_the_overlay(client: TestClient) -> None:
    params = [("run", BEST_BY_REJECTION), ("reference", "20260101-000000-base-aaaaaa")]
    answer = client.get("/api/roc", params=params)
    assert answer.status_code == 400 and answer.json()["option"] == "reference"
    assert BEST_BY_REJECTION in answer.json()["error"]
    alone = client.get("/api/roc", params={"run": BEST_BY_REJECTION}).json()["ratio"]
    assert alone["reference"] == BEST_BY_REJECTION and alone["curves"] == []


@pytest.mark.parametrize("fmt", ["png", "pdf"])
@pytest.mark.parametrize("hep", [False, True])
def test_exported_figure_equals_the_one_expctl_roc_saves(
    client: TestClient, outputs: Path, tmp_path: Path, hep: bool, fmt: str
) -> None:
    """Byte for byte, PDF too (saved without its creation date, so it is the same bytes twice)."""
    ids = [BEST_BY_REJECTION, "20260101-000000-base-aaaaaa"]
    params = [("run", i) for i in ids] + [("hep", "1" if hep else "0"), ("format", fmt)]
    answer = client.get("/api/roc/figure", params=params)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == ("image/png" if fmt == "png" else "application/pdf")
    stem = "rejection_overlay" if hep else "roc_overlay"
    assert f'filename="{stem}.{fmt}"' in answer.headers["content-disposition"]
    out = tmp_path / f"cli.{fmt}"
    args = ["roc", *(str(outputs / i) for i in ids), "--out", str(out)] + (["--hep"] if hep else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert answer.content == out.read_bytes()


def test_pdf_export_is_a_pdf(client: TestClient) -> None:
    answer = client.get("/api/roc/figure", params={"run": BEST_BY_REJECTION, "format": "pdf"})
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    svg = client.get("/api/roc/figure", params={"run": BEST_BY_REJECTION, "format": "svg"})
    assert svg.status_code == 400 and "png, pdf" in svg.json()["error"]


# ---------------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    "run_id, status",
    [
        ("..", 400),
        ("../outside", 400),
        ("/etc", 400),
        ("%2e%2e", 404),  # arrives as the literal name, which is no run
        ("a/../../etc", 400),
        ("link-out", 403),
        ("link-in", 403),
        (".hidden", 400),
        ("", 400),
        ("x" * 300, 400),
        ("not-a-run", 404),
    ],
)
def test_paths_outside_dir_are_refused(
    client: TestClient, outputs: Path, tmp_path: Path, run_id: str, status: int
) -> None:
    outside = make_run(tmp_path / "elsewhere", "20260101-000000-base-aaaaaa").parent
    (outputs / "link-out").symlink_to(outside / "20260101-000000-base-aaaaaa")
    (outputs / "link-in").symlink_to(outputs / BEST_BY_REJECTION)
    (outputs / "not-a-run").mkdir()
    for route in ("/api/run", "/api/run/state"):
        answer = client.get(route, params={"id": run_id})
        assert answer.status_code == status, (route, answer.text)
        assert "error" in answer.json()
    answer = client.get("/api/roc", params={"run": run_id})
    assert answer.status_code == status
    # the listing skips links too
    ids = [r["ids"][0] for r in client.get("/api/runs").json()["rows"]]
    assert "link-out" not in ids and "link-in" not in ids


def test_static_files_are_a_fixed_list(client: TestClient) -> None:
    for name in ("app.css", "common.js", "runs.js", "run.js", "sweep.js"):
        assert client.get(f"/static/{name}").status_code == 200
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly" in plotly.content[:2000].lower()
    for name in ("..%2fapp.py", "index.html", "__init__.py", "..%2F..%2Fpyproject.toml"):
        assert client.get(f"/static/{name}").status_code == 404


def test_nothing_writes(client: TestClient, outputs: Path) -> None:
    make_sweep(outputs)
    before = tree_digest(outputs)
    routes = [route.path for route in client.app.app.routes]  # Guard -> Starlette
    assert len(routes) == 15 and "/api/study" in routes and "/api/sweep" in routes
    for route in routes:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = client.request(method, route, params={"id": BEST_BY_REJECTION})
            assert answer.status_code == 405, (method, route)
            assert answer.headers["allow"] == "GET, HEAD"
    for route in routes:
        client.get(route, params={"id": BEST_BY_REJECTION, "run": BEST_BY_REJECTION})
    client.get("/api/roc/figure", params={"run": BEST_BY_REJECTION, "hep": "1"})
    assert client.get("/api/sweep", params={"folder": "study"}).status_code == 200
    assert tree_digest(outputs) == before


def test_pages_hold_no_run_data_and_every_answer_has_a_strict_policy(client: TestClient) -> None:
    for route in ("/", "/run"):
        page = client.get(route, params={"id": "20260106-000000-xss-ffffff"})
        assert page.status_code == 200
        assert "onerror" not in page.text and "__xss" not in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
    # run text reaches the browser only inside JSON, served as JSON
    answer = client.get("/api/runs")
    assert answer.headers["content-type"] == "application/json"
    assert any(SCRIPT_NAME in row["cells"] for row in answer.json()["rows"])
    # every script inserts run values as text; none uses innerHTML or builds markup
    for name in ("common.js", "runs.js", "run.js"):
        source = (ROOT / "expctl" / "ui" / "static" / name).read_text()
        assert ".innerHTML" not in source and ".outerHTML" not in source
        assert "insertAdjacentHTML" not in source
        assert "document.write" not in source and "eval(" not in source


def test_a_foreign_host_header_is_refused_on_loopback(client: TestClient) -> None:
    assert client.get("/api/runs", headers={"host": "evil.example:8765"}).status_code == 400
    assert client.get("/api/runs", headers={"host": "localhost:8765"}).status_code == 200
    assert client.get("/api/runs", headers={"host": "[::1]:8765"}).status_code == 200


def test_token_is_required_off_loopback(outputs: Path) -> None:
    token = safety.new_token()
    app = create_app(outputs, token=token, loopback=False)
    client = TestClient(app, base_url="http://192.0.2.1:8765", follow_redirects=False)
    assert client.get("/api/runs").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/runs", params={"token": token[:-1] + "x"}).status_code == 401
    assert client.get("/api/runs", headers={"authorization": f"Bearer {token}"}).status_code == 200
    opened = client.get("/", params={"token": token, "x": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/?x=1"
    cookie = opened.headers["set-cookie"]
    assert f"{TOKEN_COOKIE}={token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    # the redirect's cookie is the browser's key from then on
    assert client.get("/api/runs").status_code == 200
    for value in ("wrong", token[:-1], ""):
        stranger = TestClient(app, base_url="http://192.0.2.1:8765", follow_redirects=False)
        stranger.cookies.set(TOKEN_COOKIE, value)
        assert stranger.get("/api/runs").status_code == 401


def test_token_comparison_is_constant_time_and_strict() -> None:
    token = safety.new_token()
    assert len(token) >= 40
    assert safety.token_matches(token, token)
    assert not safety.token_matches(None, token)
    assert not safety.token_matches("", token)
    assert not safety.token_matches(token + "x", token)
    assert not safety.token_matches("é" * 10, token)
    source = (ROOT / "expctl" / "ui" / "safety.py").read_text()
    assert "hmac.compare_digest" in source


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert safety.is_loopback(host) is loopback


# --------------------------------------------------------------------------------- the command


def test_command_refuses_a_missing_dir_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such directory" in result.output


def test_command_names_the_extra_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    result = CliRunner().invoke(cli, ["ui", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs uvicorn" in result.output and "expctl[ui]" in result.output


def test_a_busy_port_is_exit_2(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", str(tmp_path), "--port", str(port)])
    finally:
        busy.close()
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port 0" in result.output


def test_server_prints_its_url_and_loads_no_tensorflow(outputs: Path) -> None:
    """The real server (uvicorn) answers on the printed URL; then, in a fresh interpreter, every
    route is served without TensorFlow or Keras being imported (matplotlib only for the export)."""
    import httpx2 as httpx

    process, url = start_ui(outputs)
    try:
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.get(url + "api/runs", timeout=30)
        assert answer.status_code == 200 and len(answer.json()["rows"]) == 6
    finally:
        process.terminate()
        process.wait(timeout=30)
    code = f"""
import sys
from starlette.testclient import TestClient
from expctl.ui.app import create_app
client = TestClient(create_app({str(outputs)!r}), base_url="http://127.0.0.1")
heavy = ("tensorflow", "keras", "matplotlib")
for route in ("/", "/run", "/api/runs", "/api/run?id={BEST_BY_REJECTION}",
              "/api/run/state?id={LIVE}", "/api/roc?run={BEST_BY_REJECTION}",
              "/api/histories?run={BEST_BY_REJECTION}", "/api/scores?run={BEST_BY_REJECTION}",
              "/api/run/plot?id={BEST_BY_REJECTION}&name=overtraining.png",
              "/static/plotly.min.js"):
    assert client.get(route).status_code == 200, route
print(",".join(m for m in heavy if m in sys.modules))
assert client.get("/api/roc/figure?run={BEST_BY_REJECTION}").status_code == 200
print(",".join(m for m in heavy if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    before_export, after_export = done.stdout.split("\n")[:2]
    assert before_export == ""
    assert after_export == "matplotlib"


def test_other_hosts_print_a_token_once(outputs: Path) -> None:
    import httpx2 as httpx

    process, url = start_ui(outputs, "--host", "0.0.0.0")
    try:
        assert url.startswith("http://0.0.0.0:") and "?token=" in url
        base, token = url.split("?token=")
        port = base.rsplit(":", 1)[1].rstrip("/")
        local = f"http://127.0.0.1:{port}/api/runs"
        assert httpx.get(local, timeout=30).status_code == 401
        authorised = httpx.get(local, headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert authorised.status_code == 200
        # opened as printed: the token becomes a cookie; no log line repeats the address
        opened = httpx.get(f"http://127.0.0.1:{port}/?token={token}", timeout=30)
        assert opened.status_code == 303 and opened.headers["location"] == "/"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert token not in out  # printed once only: nothing after the start lines names it


def test_png_is_a_real_image(client: TestClient) -> None:
    import matplotlib.image

    answer = client.get("/api/roc/figure", params={"run": BEST_BY_REJECTION})
    image = matplotlib.image.imread(io.BytesIO(answer.content), format="png")
    assert image.shape[0] > 300 and image.shape[1] > 300


def test_a_run_whose_files_link_out_of_dir_is_refused(
    client: TestClient, outputs: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"auc": 0.123456, "password": "hunter2"}))
    run = outputs / BEST_BY_REJECTION
    (run / layout.METRICS).unlink()
    (run / layout.METRICS).symlink_to(secret)
    answer = client.get("/api/run", params={"id": BEST_BY_REJECTION})
    assert answer.status_code == 403
    assert "symbolic link out of DIR" in answer.json()["error"]
    table = client.get("/api/runs").json()
    assert BEST_BY_REJECTION not in [r["ids"][0] for r in table["rows"]]
    assert any("links out of DIR" in w for w in table["warnings"])
    assert "0.1235" not in json.dumps(table)
    # a link that stays inside DIR is a run's own business
    (run / layout.METRICS).unlink()
    (run / layout.METRICS).symlink_to(outputs / "20260101-000000-base-aaaaaa" / layout.METRICS)
    assert client.get("/api/run", params={"id": BEST_BY_REJECTION}).status_code == 200


def test_histories_and_score_distributions_of_selected_runs(client: TestClient) -> None:
    ids = [BEST_BY_REJECTION, "20260103-000000-bad-cccccc"]
    data = client.get("/api/histories", params=[("run", i) for i in ids]).json()
    assert [r["run"] for r in data["runs"]] == ids
    assert [len(r["history"]["rows"]) for r in data["runs"]] == [5, 2]
    scores = client.get("/api/scores", params=[("run", i) for i in ids]).json()
    assert [r["run"] for r in scores["runs"]] == [BEST_BY_REJECTION]
    assert "left out of the score distributions" in scores["warnings"][0]
    edges = np.array(scores["edges"])
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == payloads.SCORE_BINS + 1
    width = np.diff(edges)
    for name in ("signal", "background"):
        density = np.array(scores["runs"][0][name])
        assert np.sum(density * width) == pytest.approx(1.0)  # each normalised to unit area
    # signal scores sit higher: its mean is above the background's
    centres = (edges[:-1] + edges[1:]) / 2
    signal = np.sum(centres * np.array(scores["runs"][0]["signal"]) * width)
    background = np.sum(centres * np.array(scores["runs"][0]["background"]) * width)
    assert signal > background + 0.2
    too_many = [("run", BEST_BY_REJECTION)] * 2 + [("run", f"r{i}") for i in range(25)]
    assert client.get("/api/scores", params=too_many).status_code == 400


def test_static_files_are_revalidated_not_resent(client: TestClient) -> None:
    first = client.get("/static/plotly.min.js")
    assert len(first.content) > 1_000_000 and first.headers["cache-control"] == "no-cache"
    again = client.get("/static/plotly.min.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/static/runs.js", headers={"if-none-match": first.headers["etag"]})
    assert other.status_code == 200


def test_seed_groups_are_one_row_with_mean_and_std(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    extra = {
        "20260201-000000-s1-000001": ("completed", "s1", {"seed": 1}, 1.0, 20.0, 0.80),
        "20260201-000000-s2-000002": ("completed", "s2", {"seed": 2}, 1.0, 30.0, 0.84),
        "20260201-000000-d3-000003": (
            "completed",
            "d3",
            {"model": {"dropout": 0.3}},
            1.0,
            5.0,
            0.7,
        ),
    }
    RUNS.update(extra)
    try:
        for run_id in extra:
            make_run(folder, run_id)
    finally:
        for run_id in extra:
            del RUNS[run_id]
    source = payloads.RunsSource(folder.resolve())
    grouped = payloads.runs_table(source, sort="auc")
    assert grouped["grouped"] is True
    first = grouped["rows"][0]
    assert first["ids"] == ["20260201-000000-s1-000001", "20260201-000000-s2-000002"]
    auc = [c["name"] for c in grouped["columns"]].index("auc")
    assert first["cells"][auc] == "0.8200 ± 0.0283"  # mean, sample std of 0.80 and 0.84
    flat = payloads.runs_table(source, group=False)
    assert len(flat["rows"]) == 3 and "seed" in [c["name"] for c in flat["columns"]]


def test_help_loads_nothing_heavy() -> None:
    from conftest import heavy_imports

    assert heavy_imports(["ui", "--help"]) == ""


def test_the_run_figures_are_served_by_name_only(client: TestClient, outputs: Path) -> None:
    run = outputs / BEST_BY_REJECTION
    plots = layout.plot_path(run, "x").parent
    (plots / "notes.txt").write_text("not a figure")
    (plots / "linked.png").symlink_to(plots / "overtraining.png")
    detail = client.get("/api/run", params={"id": BEST_BY_REJECTION}).json()
    assert detail["plots"] == ["overtraining.png"]
    figure = client.get(
        "/api/run/plot", params={"id": BEST_BY_REJECTION, "name": "overtraining.png"}
    )
    assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
    assert figure.content == tiny_png()
    for name in ("linked.png", "notes.txt", "../spec.yaml", "../../x.png", "", "missing.png"):
        answer = client.get("/api/run/plot", params={"id": BEST_BY_REJECTION, "name": name})
        assert answer.status_code == 404, name


def test_damaged_runs_are_warned_about_not_fatal(client: TestClient, outputs: Path) -> None:
    bad_spec = outputs / "20260108-000000-badspec-000001"
    bad_spec.mkdir()
    (bad_spec / layout.SPEC).write_text("model: [unclosed\n")
    atomic_write_json(bad_spec / layout.STATUS, {"status": "completed", "name": "badspec"})
    bad_status = outputs / "20260101-000000-base-aaaaaa"
    (bad_status / layout.STATUS).write_text("{not json")
    data = client.get("/api/runs").json()
    states = {row["ids"][0]: row["status"] for row in data["rows"]}
    assert bad_spec.name not in states  # compare skips a run whose spec cannot be read
    assert states[bad_status.name] == "unknown"
    assert any(bad_spec.name in w and "skipped" in w for w in data["warnings"])
    assert any(bad_status.name in w for w in data["warnings"])
    detail = client.get("/api/run", params={"id": bad_spec.name})
    assert detail.status_code == 200 and detail.json()["spec"] == []
    assert detail.json()["warnings"]


def make_biasvar(folder: Path, run_id: str = "20260110-000000-bv-00000b") -> Path:
    """A finished bias/variance experiment directory with two points of a scan of model.degree."""
    path = folder / run_id
    path.mkdir(parents=True)
    spec = _merge(BASE_SPEC, {"name": "bv"})
    (path / layout.SPEC).write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    atomic_write_json(
        path / layout.STATUS, {"status": "completed", "kind": "biasvar", "name": "bv"}
    )
    points = [
        {
            "scan_key": "model.degree",
            "scan_value": degree,
            "train_fraction": 1.0,
            "train_size": 600,
            "expected_error": error,
            "bias2": bias2,
            "variance": variance,
            "noise": 0.01,
            "verdict": verdict,
        }
        for degree, error, bias2, variance, verdict in (
            (1, 0.30, 0.25, 0.04, "high bias: <underfits>"),
            (8, 0.20, 0.05, 0.14, "high variance: overfits"),
        )
    ]
    atomic_write_json(path / layout.DECOMPOSITION, {"points": points})
    return path


def test_a_biasvar_experiment_shows_its_points(client: TestClient, outputs: Path) -> None:
    run = make_biasvar(outputs)
    detail = client.get("/api/run", params={"id": run.name}).json()
    assert detail["kind"] == "biasvar"
    assert [p["scan_value"] for p in detail["points"]] == ["1", "8"]
    assert [p["x"] for p in detail["points"]] == [1, 8]
    assert detail["points"][1]["values"]["variance"] == 0.14
    assert list(detail["points"][0]["values"]) == ["expected_error", "bias2", "noise", "variance"]
    assert detail["points"][0]["verdict"] == "high bias: <underfits>"
    # in the runs table each point is a row, as in `expctl compare`
    rows = [r for r in client.get("/api/runs").json()["rows"] if r["ids"][0] == run.name]
    assert len(rows) == 2


def test_an_empty_dir_is_an_empty_table(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path), base_url="http://127.0.0.1")
    data = client.get("/api/runs").json()
    assert data["rows"] == [] and data["n_read"] == 0 and data["warnings"] == []
    assert client.get("/").status_code == 200


def make_study(outputs: Path) -> Path:
    """A folder like a sweep's: outputs/study/trials/<two runs> (and its own files beside)."""
    trials = outputs / "study" / "trials"
    extra = {
        "20260201-000000-t0000-000001": (
            "completed",
            "t0000",
            {"model": {"dropout": 0.1}},
            1.0,
            10.0,
            0.8,
        ),
        "20260201-000000-t0001-000002": (
            "completed",
            "t0001",
            {"model": {"dropout": 0.4}},
            2.0,
            50.0,
            0.9,
        ),
    }
    RUNS.update(extra)
    try:
        for run_id in extra:
            make_run(trials, run_id)
    finally:
        for run_id in extra:
            del RUNS[run_id]
    (outputs / "study" / "notes.txt").write_text("a file beside the trials")
    return trials


def test_folders_of_runs_below_dir_are_served(
    client: TestClient, outputs: Path, tmp_path: Path
) -> None:
    make_study(outputs)
    (outputs / "empty").mkdir()
    (outputs / "linked").symlink_to(outputs / "study")
    elsewhere = make_run(tmp_path / "elsewhere" / "runs", "20260101-000000-base-aaaaaa").parent
    (outputs / "outside").symlink_to(elsewhere)
    assert client.get("/api/folders").json() == {"folders": ["study/trials"], "sweeps": []}
    table = client.get("/api/runs", params={"folder": "study/trials", "sort": "rejection_at_50"})
    assert [r["ids"][0] for r in table.json()["rows"]] == [
        "20260201-000000-t0001-000002",
        "20260201-000000-t0000-000001",
    ]
    assert table.json()["directory"].endswith("study/trials")
    one = {"folder": "study/trials", "id": "20260201-000000-t0001-000002"}
    assert client.get("/api/run", params=one).json()["name"] == "t0001"
    assert client.get("/api/run/state", params=one).status_code == 200
    runs = {"folder": "study/trials", "run": one["id"]}
    assert len(client.get("/api/roc", params=runs).json()["curves"]) == 1
    assert client.get("/api/roc/figure", params=runs).content.startswith(b"\x89PNG")
    # a run of DIR is not in the folder, nor the other way round
    assert client.get("/api/run", params={"id": one["id"]}).status_code == 404
    wrong = {"folder": "study/trials", "id": BEST_BY_REJECTION}
    assert client.get("/api/run", params=wrong).status_code == 404


@pytest.mark.parametrize(
    "folder, status",
    [
        ("..", 400),
        ("study/..", 400),
        ("study/../..", 400),
        ("/etc", 400),
        ("study//trials", 400),
        (".hidden", 400),
        ("a/b/c/d", 400),
        ("linked/trials", 403),
        ("outside", 403),
        ("missing", 404),
        ("study/notes.txt", 404),
    ],
)
def test_folders_outside_dir_are_refused(
    client: TestClient, outputs: Path, tmp_path: Path, folder: str, status: int
) -> None:
    make_study(outputs)
    (outputs / "linked").symlink_to(outputs / "study")
    elsewhere = make_run(tmp_path / "elsewhere" / "runs", "20260101-000000-base-aaaaaa").parent
    (outputs / "outside").symlink_to(elsewhere)
    for route, params in (
        ("/api/runs", {"folder": folder}),
        ("/api/run", {"folder": folder, "id": "20260201-000000-t0000-000001"}),
        ("/api/roc", {"folder": folder, "run": "20260101-000000-base-aaaaaa"}),
    ):
        answer = client.get(route, params=params)
        assert answer.status_code == status, (route, answer.text)


def test_study_gives_each_runs_metric_and_keys_in_start_order(client: TestClient) -> None:
    data = client.get("/api/study").json()
    assert data["metric"] == "auc" and data["better"] == "higher"
    assert data["keys"] == ["model.dropout", f"model.{IMG_KEY}"]
    assert [r["id"] for r in data["runs"]] == list(RUNS)  # start order, one per run
    assert [r["value"] for r in data["runs"]] == [0.76, 0.96, None, None, None, 0.86]
    # numbers as they are, other values as text (a key a run lacks is null)
    assert [r["params"] for r in data["runs"]][1::4] == [[0.3, "null"], [0.1, "<b>bold</b>"]]
    loss = client.get("/api/study", params={"metric": "loss"}).json()
    assert loss["better"] == "lower"
    assert [r["value"] for r in loss["runs"] if r["value"] is not None] == [0.4, 0.4, 0.4]
    only = client.get("/api/study", params=[("filter", "auc>0.8")]).json()
    assert [r["id"] for r in only["runs"]] == [BEST_BY_REJECTION, "20260106-000000-xss-ffffff"]
    bad = client.get("/api/study", params={"metric": "nope"})
    assert bad.status_code == 400 and bad.json()["option"] == "metric"
    assert "rejection_at_50" in bad.json()["error"]


# ------------------------------------------------------------------------------------ a sweep

SWEEP_CSV_TEXT = (
    "trial,state,value,duration_s,run,host,model.dropout,model.hidden\n"
    "0,COMPLETE,0.8,12.5,20260201-000000-t0000-000001,node1,0.1,[32]\n"
    "1,COMPLETE,0.9,13.0,20260201-000000-t0001-000002,node2,0.4,[64]\n"
    "2,FAIL,,1.0,,node1,0.5,<script>window.__xss=3</script>\n"
    "3,RUNNING,,,,node2,0.2,[16]\n"
)


def make_sweep(outputs: Path) -> Path:
    """A sweep directory as `expctl sweep` leaves it: sweep.yaml, sweep.csv, best.yaml, trials/
    (two trial runs of make_study), names from `expctl.runs.layout`."""
    trials = make_study(outputs)
    sweep = trials.parent
    spec = _merge(BASE_SPEC, {"model": {"dropout": 0.4}})
    space = {
        "model.dropout": {"type": "float", "low": 0.05, "high": 0.5, "log": True, "step": None},
        "model.hidden": {"type": "choice", "values": [[16], [32], [64]]},
    }
    sweep_block = {"method": "random", "metric": "val_auc", "direction": "auto", "space": space}
    record = {**spec, "sweep": sweep_block}
    (sweep / layout.SWEEP_YAML).write_text(yaml.safe_dump(record, sort_keys=False))
    (sweep / layout.SWEEP_CSV).write_text(SWEEP_CSV_TEXT)
    best = "# best trial 1 of sweep study: val_auc 0.9\n# runs: 20260201-000000-t0001-000002\n"
    (sweep / layout.BEST_YAML).write_text(best + yaml.safe_dump(spec, sort_keys=False))
    return sweep


def test_sweep_csv_columns_are_the_sweeps() -> None:
    pytest.importorskip("optuna")
    from expctl.sweep.outputs import FIXED_COLUMNS

    assert payloads.SWEEP_FIXED_COLUMNS == FIXED_COLUMNS


def test_a_multitask_sweeps_direction_knows_its_heads(tmp_path: Path) -> None:
    """`auto` on `val_<head>_auc` is the direction the sweep optimised in: the catalogue knows the
    head from the base spec recorded in sweep.yaml (without the heads it has no direction)."""
    sweep = tmp_path / "mt"
    sweep.mkdir()
    block = {"method": "random", "metric": "val_signal_auc", "direction": "auto", "space": {}}
    for heads, better in (([{"name": "signal", "target": "label"}], "higher"), ([], None)):
        record = {**BASE_SPEC, "model": {"type": "mlp", "heads": heads}, "sweep": block}
        (sweep / layout.SWEEP_YAML).write_text(yaml.safe_dump(record, sort_keys=False))
        assert payloads.sweep_detail(sweep)["better"] == better


def test_a_sweep_shows_its_trials_best_spec_and_direction(
    client: TestClient, outputs: Path
) -> None:
    make_sweep(outputs)
    folders = client.get("/api/folders").json()
    assert folders == {"folders": ["study/trials"], "sweeps": ["study"]}
    data = client.get("/api/sweep", params={"folder": "study"}).json()
    assert data["name"] == "study" and data["method"] == "random"
    assert data["metric"] == "val_auc" and data["better"] == "higher"  # auto: the catalogue's
    assert data["keys"] == ["model.dropout", "model.hidden"]
    assert data["scales"] == {"model.dropout": "log", "model.hidden": "category"}
    assert [t["state"] for t in data["trials"]] == ["COMPLETE", "COMPLETE", "FAIL", "RUNNING"]
    assert [t["value"] for t in data["trials"]] == [0.8, 0.9, None, None]
    assert data["trials"][1]["runs"] == ["20260201-000000-t0001-000002"]
    assert data["trials"][1]["host"] == "node2" and data["trials"][3]["runs"] == []
    assert data["trials"][2]["params"] == ["0.5", "<script>window.__xss=3</script>"]
    assert data["trials_folder"] == "study/trials"
    assert data["best"]["comments"][0] == "best trial 1 of sweep study: val_auc 0.9"
    assert ["model.dropout", "0.4"] in data["best"]["spec"]
    assert data["warnings"] == []
    # the trial run the table links to is served
    run = {"folder": data["trials_folder"], "id": data["trials"][1]["runs"][0]}
    assert client.get("/api/run", params=run).json()["name"] == "t0001"
    assert client.get("/sweep", params={"folder": "study"}).status_code == 200


def test_a_recorded_space_gives_each_keys_axis_scale() -> None:
    space = {
        "a": {"type": "int", "low": 1, "high": 64, "log": True, "step": 1},
        "b": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "step": None},
        "c": {"type": "choice", "values": ["x", "y"]},
        "d": 3,  # hand-edited junk: skipped
        "e": {"type": "normal"},
    }
    assert payloads._scales(space) == {"a": "log", "b": "linear", "c": "category"}
    assert payloads._scales(None) == {} and payloads._scales(["a"]) == {}


def test_a_sweeps_direction_and_missing_files(client: TestClient, outputs: Path) -> None:
    sweep = make_sweep(outputs)
    record = {"sweep": {"metric": "val_auc", "direction": "minimize"}}
    (sweep / layout.SWEEP_YAML).write_text(yaml.safe_dump(record))
    (sweep / layout.BEST_YAML).unlink()
    (sweep / layout.SWEEP_CSV).unlink()
    data = client.get("/api/sweep", params={"folder": "study"}).json()
    assert data["better"] == "lower" and data["best"] is None and data["trials"] == []
    assert len(data["warnings"]) == 1 and "sweep.csv: missing" in data["warnings"][0]


@pytest.mark.parametrize(
    "folder, status", [("", 404), ("study/trials", 404), ("..", 400), ("nope", 404)]
)
def test_only_sweep_folders_have_a_sweep_page(
    client: TestClient, outputs: Path, folder: str, status: int
) -> None:
    make_sweep(outputs)
    assert client.get("/api/sweep", params={"folder": folder}).status_code == status


def test_a_sweep_file_linking_out_of_dir_is_refused(
    client: TestClient, outputs: Path, tmp_path: Path
) -> None:
    sweep = make_sweep(outputs)
    secret = tmp_path / "secret.csv"
    secret.write_text("trial,state\n0,COMPLETE\n")
    (sweep / layout.SWEEP_CSV).unlink()
    (sweep / layout.SWEEP_CSV).symlink_to(secret)
    answer = client.get("/api/sweep", params={"folder": "study"})
    assert answer.status_code == 403 and "sweep.csv" in answer.json()["error"]


def test_dir_itself_can_be_a_sweep(tmp_path: Path) -> None:
    sweep = make_sweep(make_outputs(tmp_path / "outputs"))
    client = TestClient(create_app(sweep), base_url="http://127.0.0.1:8765")
    assert client.get("/api/folders").json() == {"folders": ["trials"], "sweeps": [""]}
    data = client.get("/api/sweep").json()
    assert data["trials_folder"] == "trials" and len(data["trials"]) == 4
