"""`expctl compare` on synthetic run directories (no training): keys, groups, filters, formats."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import COMMANDS, cli
from expctl.evaluation import catalogue
from expctl.runs.specfile import read_spec_file
from expctl.views import compare as cmp
from expctl.views import grouping

ROOT = Path(__file__).resolve().parents[1]

SPEC: dict[str, Any] = {
    "name": "quick",
    "seed": 1,
    "data": {"source": "jets", "split": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": None},
    "model": {"type": "mlp", "hidden": [64, 64], "dropout": 0.1, "l2": 1.0e-4},
    "train": {"optimizer": {"name": "adam", "learning_rate": 1.0e-3}, "epochs": 5},
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def make_run(
    folder: Path,
    run_id: str,
    spec: dict[str, Any] | None = None,
    *,
    auc: float = 0.8,
    loss: float = 0.45,
    status: str = "completed",
    duration: float = 10.0,
) -> Path:
    """A run directory as `expctl run` writes it: spec.yaml, status.json, metrics.json, history.csv."""
    path = folder / run_id
    (path / "plots").mkdir(parents=True)
    resolved = deep_merge(SPEC, spec or {})
    (path / "spec.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    training = {"epochs_trained": 5, "best_epoch": 4, "stopped_epoch": None, "restored_best": True}
    (path / "status.json").write_text(
        json.dumps(
            {
                "status": status,
                "run_id": run_id,
                "name": resolved["name"],
                "duration_s": duration if status != "running" else None,
                "error": None,
                **({"training": training} if status != "running" else {}),
            }
        )
    )
    if status == "completed":
        metrics = {"loss": loss, "accuracy": auc - 0.1, "auc": auc, "n": 4000.0, **training}
        (path / "metrics.json").write_text(json.dumps(metrics))
    lines = ["epoch,loss,val_loss,learning_rate"]
    lines += [f"{e},{0.7 - 0.05 * e},{0.72 - 0.04 * e},0.001" for e in range(1, 6)]
    (path / "history.csv").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    """`expctl ...` through the root group, with `compare` registered as it will be."""
    monkeypatch.setitem(COMMANDS, "compare", ("expctl.cli.compare", "compare"))

    def run(*args: str):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Three seeds of dropout 0.1, one run of dropout 0.3 (lr 0.01), one failed run of dropout 0.5."""
    out = tmp_path / "outputs"
    for i, (seed, auc, loss) in enumerate([(1, 0.80, 0.50), (2, 0.82, 0.46), (3, 0.84, 0.42)]):
        make_run(out, f"2026010{i + 1}-000000-quick-00000{i}", {"seed": seed}, auc=auc, loss=loss)
    make_run(
        out,
        "20260104-000000-quick-000003",
        {"model": {"dropout": 0.3}, "train": {"optimizer": {"learning_rate": 0.01}}},
        auc=0.86,
        loss=0.40,
        duration=20.0,
    )
    make_run(out, "20260105-000000-quick-000004", {"model": {"dropout": 0.5}}, status="failed")
    return out


def stdout_json(result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------- pure functions


def test_flatten_uses_dotted_paths_and_keeps_lists() -> None:
    flat = cmp.flatten(SPEC)
    assert flat["train.optimizer.learning_rate"] == 1.0e-3
    assert flat["model.hidden"] == [64, 64]
    assert flat["data.split.val"] == 0.2
    assert list(flat)[:3] == ["name", "seed", "data.source"]
    assert cmp.flatten({"a": {}, "b": {"c": {}}}) == {"a": {}, "b.c": {}}


def test_differing_keys_are_found_automatically() -> None:
    specs = [
        cmp.flatten(SPEC),
        cmp.flatten(deep_merge(SPEC, {"name": "other", "model": {"hidden": [32]}})),
        cmp.flatten(deep_merge(SPEC, {"train": {"optimizer": {"learning_rate": 0.001}}})),
        cmp.flatten(deep_merge(SPEC, {"model": {"l2": 0.0001}, "train": {"momentum": 0.9}})),
    ]
    # 1e-3 == 0.001 and 1e-4 == 0.0001: not differences; the name is never a key; a key only
    # some specs have differs.
    assert grouping.differing_keys(specs) == ["model.hidden", "train.momentum"]
    assert grouping.differing_keys([{"a": 1}, {"a": 1.0}]) == []
    assert grouping.differing_keys([{"a": [1, 2]}, {"a": [1, 2.0]}, {"a": [2, 1]}]) == ["a"]


def test_seed_keys() -> None:
    assert grouping.is_seed_key("seed") and grouping.is_seed_key("data.seed")
    assert not grouping.is_seed_key("data.seeds") and not grouping.is_seed_key("seed.value")


def test_mean_and_sample_std_are_exact() -> None:
    mean, std = grouping.mean_std([0.80, 0.82, 0.84])
    assert mean == pytest.approx(0.82, abs=1e-15)
    assert std == pytest.approx(0.02, abs=1e-15)
    assert grouping.mean_std([1.0, math.nan])[0] == 1.0 and math.isnan(grouping.mean_std([1.0])[1])


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("status=completed", {"status": "completed"}, True),
        ("status!=completed", {"status": "completed"}, False),
        ("model.dropout>0.1", {"model.dropout": 0.3}, True),
        ("model.dropout>0.1", {"model.dropout": 0.1}, False),
        ("model.dropout>=0.1", {"model.dropout": 0.1}, True),
        ("train.optimizer.learning_rate<1e-2", {"train.optimizer.learning_rate": 0.001}, True),
        ("auc <= 0.8", {"auc": 0.8}, True),
        ("auc>0.5", {"auc": math.nan}, False),
        ("auc!=0.5", {}, True),
        ("model.hidden=[64, 64]", {"model.hidden": [64, 64]}, True),
        ("data.seed=null", {"data.seed": None}, True),
        ("train.shuffle=True", {"train.shuffle": True}, True),
        ("train.epochs=5", {"train.epochs": 5}, True),
        ("train.epochs==5.0", {"train.epochs": 5}, True),
    ],
)
def test_filters(text: str, row: dict[str, Any], expected: bool) -> None:
    assert grouping.parse_filter(text).matches(row) is expected


@pytest.mark.parametrize("text", ["auc", "=1", "auc>>1", ">"])
def test_bad_filters(text: str) -> None:
    with pytest.raises(ValueError, match="KEY OP VALUE"):
        grouping.parse_filter(text)


def test_sort_directions() -> None:
    runs = [
        cmp.Run(Path("a"), {}, {"model.dropout": 0.1}, {"auc": 0.8, "loss": 0.4, "brier": 0.2}),
        cmp.Run(Path("b"), {}, {"model.dropout": 0.2, "auc": 1}, {"auc": 0.9, "f1": 0.5}),
    ]
    table = cmp.build_table(runs, group=False)
    grouped = cmp.build_table(runs, group=True)
    # auc is also a spec key of run b: the metric's column is test_auc, still a metric
    assert table.metrics["test_auc"] == "auc"
    assert cmp.default_descending(table, "test_auc") and cmp.default_descending(table, "f1")
    assert cmp.default_descending(grouped, "test_auc_mean")
    assert cmp.default_descending(grouped, "test_auc")
    assert not cmp.default_descending(table, "loss") and not cmp.default_descending(table, "brier")
    assert not cmp.default_descending(table, "model.dropout")
    assert not cmp.default_descending(table, "duration_s")
    assert not cmp.default_descending(grouped, "test_auc_std")
    assert catalogue.higher_is_better("val_accuracy") is True
    assert cmp.parse_sort("-loss") == ("loss", True)
    assert cmp.parse_sort("+auc") == ("auc", False)
    assert cmp.parse_sort("auc") == ("auc", None)


def test_spec_loader_is_safe_and_reads_yaml_1_2_numbers(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("a: 1e-3\nb: no\nc: [1, 2]\n")
    assert read_spec_file(path) == {"a": 0.001, "b": "no", "c": [1, 2]}
    path.write_text("a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ValueError, match="unreadable spec"):
        read_spec_file(path)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, k in zip("abcdefg", "bcdefgh", strict=True)
    )
    path.write_text(bomb)
    with pytest.raises(ValueError, match="aliases"):
        read_spec_file(path)


# ------------------------------------------------------------------------------- the command


def test_table_groups_seeds_and_shows_differing_keys(sweep: Path, invoke) -> None:
    result = invoke("compare", sweep)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:5] == [
        "id",
        "name",
        "status",
        "model.dropout",
        "train.optimizer.learning_rate",
    ]
    assert "seed" not in header.split()
    for column in (
        "auc",
        "accuracy",
        "loss",
        "best_epoch",
        "stopped_epoch",
        "duration_s",
        "n_runs",
    ):
        assert column in header.split()
    assert len(rows) == 3
    assert "20260101-000000-quick-000000 (+2)" in rows[0]
    assert "0.8200 ± 0.0200" in rows[0] and rows[0].rstrip().endswith("3")
    assert "failed" in rows[2]


def test_json_group_mean_std_and_n_runs(sweep: Path, invoke) -> None:
    data = stdout_json(invoke("compare", sweep, "--format", "json"))
    assert data["grouped"] is True
    assert data["differing_keys"] == ["seed", "model.dropout", "train.optimizer.learning_rate"]
    group = data["rows"][0]
    assert group["ids"] == [f"2026010{i + 1}-000000-quick-00000{i}" for i in range(3)]
    assert group["n_runs"] == 3
    assert group["auc_mean"] == pytest.approx(0.82, abs=1e-12)
    assert group["auc_std"] == pytest.approx(0.02, abs=1e-12)
    assert group["loss_mean"] == pytest.approx(0.46, abs=1e-12)
    assert group["loss_std"] == pytest.approx(0.04, abs=1e-12)
    assert group["model.dropout"] == 0.1
    single = data["rows"][1]
    assert single["n_runs"] == 1 and single["auc_mean"] == 0.86 and single["auc_std"] is None
    failed = data["rows"][2]
    assert failed["status"] == "failed" and failed["auc_mean"] is None


def test_no_group_lists_every_run(sweep: Path, invoke) -> None:
    data = stdout_json(invoke("compare", sweep, "--format", "json", "--no-group"))
    assert data["grouped"] is False
    assert len(data["rows"]) == 5
    assert [r["seed"] for r in data["rows"]] == [1, 2, 3, 1, 1]
    assert "auc" in data["columns"] and "auc_mean" not in data["columns"]
    assert data["rows"][0]["auc"] == 0.80


def test_csv_columns_are_dotted_paths(sweep: Path, invoke) -> None:
    result = invoke("compare", sweep, "--format", "csv", "--no-group")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:6] == [
        "id",
        "name",
        "status",
        "seed",
        "model.dropout",
        "train.optimizer.learning_rate",
    ]
    assert [float(r["model.dropout"]) for r in rows] == [0.1, 0.1, 0.1, 0.3, 0.5]
    assert float(rows[3]["train.optimizer.learning_rate"]) == 0.01
    grouped = list(csv.DictReader(io.StringIO(invoke("compare", sweep, "--format", "csv").stdout)))
    assert {"auc_mean", "auc_std", "loss_mean", "n_runs", "model.dropout"} <= set(grouped[0])
    assert float(grouped[0]["auc_std"]) == pytest.approx(0.02)
    assert grouped[0]["n_runs"] == "3"


def test_filters_and_sort(sweep: Path, invoke) -> None:
    def ids(*args: str) -> list[str]:
        data = stdout_json(invoke("compare", sweep, "--format", "json", "--no-group", *args))
        return [r["id"][-1] for r in data["rows"]]

    assert ids("--filter", "status=completed") == ["0", "1", "2", "3"]
    assert ids("--filter", "model.dropout>0.1") == ["3", "4"]
    assert ids("--filter", "model.dropout>0.1", "--filter", "status!=failed") == ["3"]
    assert ids("--filter", "seed>=2") == ["1", "2"]
    assert ids("--sort", "auc") == ["3", "2", "1", "0", "4"]  # best first, missing last
    assert ids("--sort", "loss") == ["3", "2", "1", "0", "4"]  # lowest first
    assert ids("--sort", "+auc") == ["0", "1", "2", "3", "4"]
    assert ids("--sort", "-loss") == ["0", "1", "2", "3", "4"]
    assert ids("--sort", "-model.dropout") == ["4", "3", "0", "1", "2"]
    grouped = stdout_json(invoke("compare", sweep, "--format", "json", "--sort", "auc"))
    assert [r["n_runs"] for r in grouped["rows"]] == [1, 3, 1]


def test_filter_leaves_only_keys_that_still_differ(sweep: Path, invoke) -> None:
    data = stdout_json(
        invoke("compare", sweep, "--format", "json", "--filter", "model.dropout<0.2")
    )
    assert data["differing_keys"] == ["seed"]
    assert len(data["rows"]) == 1 and data["rows"][0]["n_runs"] == 3


def test_columns_and_markdown(sweep: Path, invoke) -> None:
    result = invoke(
        "compare", sweep, "--format", "markdown", "--columns", "id,model.dropout,auc,data.source"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "| id | model.dropout | auc | data.source |"
    assert lines[1] == "|---|---:|---:|---|"
    assert lines[2].startswith(
        "| 20260101-000000-quick-000000 (+2) | 0.1 | 0.8200 ± 0.0200 | jets |"
    )
    data = stdout_json(invoke("compare", sweep, "--format", "json", "--columns", "id,auc_std"))
    assert data["columns"] == ["ids", "auc_std"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sort", "nope"], "unknown key 'nope'"),
        (["--filter", "nope=1"], "unknown key 'nope'"),
        (["--filter", "auc"], "KEY OP VALUE"),
        (["--columns", "id,nope"], "unknown column(s) nope"),
        (["--out", "x.png"], "--plot"),
        (["--plot", "metric", "--out", "x.txt"], ".png"),
        (["--metric", "auc"], "--plot metric"),
        (["--plot", "metric", "--metric", "nope"], "no metric 'nope'"),
    ],
)
def test_usage_errors_exit_2(sweep: Path, invoke, args: list[str], needle: str) -> None:
    result = invoke("compare", sweep, *args)
    assert result.exit_code == 2
    assert needle in result.output


def test_broken_runs_are_warned_about_and_healthy_ones_shown(tmp_path: Path, invoke) -> None:
    out = tmp_path / "outputs"
    good = make_run(out, "20260101-000000-quick-aaaaaa", auc=0.81)
    other = make_run(out, "20260102-000000-quick-bbbbbb", {"model": {"dropout": 0.2}}, auc=0.83)
    corrupt = make_run(out, "20260103-000000-quick-cccccc", {"model": {"dropout": 0.3}})
    (corrupt / "metrics.json").write_text('{"auc": 0.9,')
    no_status = make_run(out, "20260104-000000-quick-dddddd", {"model": {"dropout": 0.4}})
    (no_status / "status.json").unlink()
    empty = out / "20260105-000000-quick-eeeeee"
    empty.mkdir()
    bad_spec = make_run(out, "20260106-000000-quick-ffffff")
    (bad_spec / "spec.yaml").write_text("model: [unclosed\n")
    running = make_run(out, "20260107-000000-quick-gggggg", status="running")

    result = invoke("compare", out, "--no-group", "--format", "json")
    assert result.exit_code == 0, result.output
    for path in (corrupt / "metrics.json", no_status / "status.json", empty, bad_spec, running):
        assert str(path) in result.stderr, path
    assert result.stderr.count("warning:") == 5
    rows = {r["id"]: r for r in json.loads(result.stdout)["rows"]}
    assert set(rows) == {good.name, other.name, corrupt.name, no_status.name, running.name}
    assert rows[good.name]["auc"] == 0.81 and rows[other.name]["auc"] == 0.83
    assert rows[corrupt.name]["auc"] is None and rows[corrupt.name]["status"] == "completed"
    assert rows[no_status.name]["status"] == "unknown"
    assert rows[running.name]["status"] == "running"

    strict = invoke("compare", out, "--strict")
    assert strict.exit_code == 1
    assert good.name in strict.stdout
    assert invoke("compare", good, other, "--strict").exit_code == 0


def test_symlinked_run_in_folder_is_skipped_with_a_warning(tmp_path: Path, invoke) -> None:
    out = tmp_path / "outputs"
    make_run(out, "20260101-000000-quick-aaaaaa")
    outside = make_run(tmp_path / "elsewhere", "20260102-000000-evil-bbbbbb")
    (out / outside.name).symlink_to(outside, target_is_directory=True)
    result = invoke("compare", out, "--format", "json")
    assert result.exit_code == 0, result.output
    assert str(out / outside.name) in result.stderr and "symbolic link" in result.stderr
    assert [r["ids"] for r in json.loads(result.stdout)["rows"]] == [
        ["20260101-000000-quick-aaaaaa"]
    ]


def test_missing_dir_exits_2(tmp_path: Path, invoke) -> None:
    result = invoke("compare", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output and "no such directory" in result.output
    result = invoke("compare", "--output-dir", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no such directory" in result.output


def test_runs_by_id_and_default_output_dir(sweep: Path, invoke) -> None:
    data = stdout_json(
        invoke("compare", "20260104", "20260101", "--output-dir", sweep, "--format", "json")
    )
    assert [r["ids"] for r in data["rows"]] == [
        ["20260104-000000-quick-000003"],
        ["20260101-000000-quick-000000"],
    ]
    everything = stdout_json(invoke("compare", "--output-dir", sweep, "--format", "json"))
    assert sum(r["n_runs"] for r in everything["rows"]) == 5


def test_command_object_directly(sweep: Path) -> None:
    from expctl.cli.compare import compare

    result = CliRunner().invoke(compare, [str(sweep), "--format", "json", "--no-group"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["rows"]) == 5


def test_compare_never_imports_tensorflow_keras_or_matplotlib(sweep: Path) -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom expctl.cli import COMMANDS, cli\n"
        "COMMANDS['compare'] = ('expctl.cli.compare', 'compare')\n"
        f"r = CliRunner().invoke(cli, ['compare', {str(sweep)!r}, '--sort', 'auc'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(','.join(m for m in ('tensorflow', 'keras', 'matplotlib', 'pandas') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == ""


def test_plot_metric_writes_a_png(sweep: Path, invoke, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "figs" / "auc.png"
    result = invoke("compare", sweep, "--plot", "metric", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5_000
    monkeypatch.chdir(tmp_path)
    result = invoke("compare", sweep, "--plot", "learning_curves", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "compare_learning_curves.png").stat().st_size > 5_000
    assert "figure: compare_learning_curves.png" in result.stderr
    assert result.stdout.startswith("ids,")  # the figure line does not spoil the csv


def test_plot_roc_without_predictions_exits_2(sweep: Path, invoke, tmp_path: Path) -> None:
    result = invoke("compare", sweep, "--plot", "roc", "--out", tmp_path / "roc.png")
    assert result.exit_code == 2
    assert "predictions.npz" in result.output


def test_plot_roc_overlays_binary_runs(sweep: Path, invoke, tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for run in sorted(sweep.iterdir())[:4]:
        y = rng.integers(0, 2, 400)
        np.savez(
            run / "predictions.npz",
            y_true=y,
            y_score=np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1),
            classes=np.array(["background", "signal"]),
        )
    out = tmp_path / "roc.png"
    result = invoke("compare", sweep, "--plot", "roc", "--out", out, "--format", "json")
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    # The failed run has no predictions: left out with a warning naming it.
    assert "20260105-000000-quick-000004" in result.stderr and "left out" in result.stderr
    assert json.loads(result.stdout)["grouped"] is True


def test_terminal_table_shows_main_metrics_and_csv_every_metric(tmp_path: Path, invoke) -> None:
    out = tmp_path / "outputs"
    for i, dropout in enumerate((0.1, 0.2)):
        run = make_run(
            out, f"2026010{i + 1}-000000-quick-00000{i}", {"model": {"dropout": dropout}}
        )
        metrics = json.loads((run / "metrics.json").read_text())
        metrics.update(precision=0.7, ks_pvalue_signal=0.4, rejection_at_50=20.0 + i)
        (run / "metrics.json").write_text(json.dumps(metrics))
    table = invoke("compare", out)
    assert table.exit_code == 0, table.output
    header = table.stdout.splitlines()[0].split()
    assert {"auc", "loss", "rejection_at_50"} <= set(header)
    assert "precision" not in header and "ks_pvalue_signal" not in header
    rows = list(csv.DictReader(io.StringIO(invoke("compare", out, "--format", "csv").stdout)))
    assert {"precision_mean", "ks_pvalue_signal_mean", "rejection_at_50_mean"} <= set(rows[0])
    assert "precision" in invoke("compare", out, "--columns", "id,precision").stdout
