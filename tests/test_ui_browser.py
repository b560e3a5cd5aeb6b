"""`expctl ui` in a real browser: Debian's Chromium, headless, driven by Playwright.

The server is the real command (`python -m expctl ui DIR --port 0`, uvicorn) over the fixture
folder of tests/test_ui.py (completed, failed, crashed and running runs, and one whose name and
spec keys hold HTML). Every page load is watched: a console error, an uncaught page error, or any
request to an address other than 127.0.0.1 fails the test (foreign requests are also blocked).
Playwright never downloads a browser here: it launches /usr/bin/chromium (`.ci/run` installs it);
without it, or without Playwright, these tests are skipped, saying why.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from expctl.runs import layout

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the dev group)")
pytest.importorskip("starlette", reason="the ui extra is not installed (uv sync --extra ui)")

from playwright.sync_api import Browser, Page, Request, sync_playwright  # noqa: E402
from test_ui import (  # noqa: E402
    BEST_BY_REJECTION,
    IMG_KEY,
    LIVE,
    RUNS,
    SCRIPT_NAME,
    history_rows,
    make_biasvar,
    make_outputs,
    make_run,
    make_study,
    make_sweep,
)
from uiserver import start_ui  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: How long a live change may take to show (the pages poll every 2 s).
LIVE_TIMEOUT_MS = 8000


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_outputs(tmp_path_factory.mktemp("ui") / "outputs")


@pytest.fixture(scope="module")
def server(outputs: Path) -> Iterator[str]:
    """The dashboard's URL, served by `expctl ui` in a subprocess for this module."""
    process, url = start_ui(outputs)
    try:
        yield url.rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            browser.close()


class Watch:
    """What a page did that it must not: console errors, page errors, requests off 127.0.0.1."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.foreign: list[str] = []
        self.requests: list[str] = []

    def check(self) -> None:
        assert self.foreign == [], f"requests outside 127.0.0.1: {self.foreign}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.page_errors == [], f"page errors: {self.page_errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(accept_downloads=True)
    watch = Watch()

    def route(request_route: Any, request: Request) -> None:
        watch.requests.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            request_route.continue_()
        else:
            watch.foreign.append(request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
    try:
        yield page, watch
    finally:
        context.close()
    watch.check()


def row_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#runs tbody tr", "rows => rows.map(r => r.dataset.ids)")


def open_runs(page: Page, server: str, rows: int) -> None:
    page.goto(server + "/")
    page.wait_for_function(
        "n => document.querySelectorAll('#runs tbody tr').length >= n", arg=rows, timeout=15_000
    )


def test_runs_table_lists_every_state(page: tuple[Page, Watch], server: str) -> None:
    page_, watch = page
    open_runs(page_, server, 6)
    statuses = page_.eval_on_selector_all(
        "#runs tbody td.status", "cells => cells.map(c => c.textContent)"
    )
    assert sorted(statuses) == sorted(
        ["completed", "completed", "completed", "failed", "crashed", "running"]
    )
    assert row_ids(page_)[0] == "20260101-000000-base-aaaaaa"  # oldest first, as compare
    assert watch.requests and all("127.0.0.1" in url for url in watch.requests)


def test_sorting_by_rejection_puts_the_best_first(page: tuple[Page, Watch], server: str) -> None:
    page_, _ = page
    open_runs(page_, server, 6)
    page_.click("#runs th[data-column='rejection_at_50']")
    page_.wait_for_selector("#runs th.sorted-desc[data-column='rejection_at_50']")
    assert row_ids(page_)[:3] == [
        BEST_BY_REJECTION,
        "20260106-000000-xss-ffffff",
        "20260101-000000-base-aaaaaa",
    ]
    page_.click("#runs th[data-column='rejection_at_50']")  # again: worst first
    page_.wait_for_selector("#runs th.sorted-asc[data-column='rejection_at_50']")
    assert row_ids(page_)[0] == "20260101-000000-base-aaaaaa"


def test_filter_box_takes_compare_filters(page: tuple[Page, Watch], server: str) -> None:
    page_, watch = page
    open_runs(page_, server, 6)
    page_.fill("#filter", "status=completed; auc>0.8")
    page_.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 2")
    assert sorted(row_ids(page_)) == [BEST_BY_REJECTION, "20260106-000000-xss-ffffff"]
    page_.fill("#filter", "nope=1")
    page_.wait_for_selector("#error:not([hidden])")
    assert "unknown key 'nope'" in page_.inner_text("#error")
    page_.fill("#filter", "")
    page_.wait_for_selector("#error", state="hidden")
    # the refused filter's answer (400) is the one error Chromium logs: expected here
    assert set(watch.console_errors) == {
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    }
    watch.console_errors.clear()


def test_selecting_two_runs_draws_the_roc_overlay(page: tuple[Page, Watch], server: str) -> None:
    page_, _ = page
    open_runs(page_, server, 6)
    for run_id in (BEST_BY_REJECTION, "20260101-000000-base-aaaaaa"):
        page_.check(f"#runs tr[data-ids='{run_id}'] input[type=checkbox]")
    page_.wait_for_selector("#roc-chart[data-curves='2']", timeout=20_000)
    page_.wait_for_selector("#rejection-chart[data-curves='2']")
    # two curves and the chance line in the ROC; two curves on a log axis in the rejection
    assert page_.locator("#roc-chart .scatterlayer .trace").count() == 3
    assert page_.locator("#rejection-chart .subplot.xy .scatterlayer .trace").count() == 2
    legend = page_.text_content("#roc-chart .legend") or ""
    assert BEST_BY_REJECTION in legend and "AUC" in legend
    page_.wait_for_selector("#curves-chart[data-runs='2']")
    page_.wait_for_selector("#scores-chart[data-runs='2']")
    assert page_.input_value("#curve-column") == "val_loss"
    assert page_.locator("#scores-chart .scatterlayer .trace").count() == 4
    href = page_.get_attribute("#export-rej-png", "href")
    assert href is not None and "hep=1" in href and BEST_BY_REJECTION in href
    with page_.expect_download() as download:
        page_.click("#export-roc-png")
    saved = Path(download.value.path())
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert download.value.suggested_filename == "roc_overlay.png"


def test_the_rejection_overlay_has_a_ratio_panel_to_a_reference_run(
    page: tuple[Page, Watch], server: str
) -> None:
    page_, _ = page
    open_runs(page_, server, 6)
    base = "20260101-000000-base-aaaaaa"
    for run_id in (BEST_BY_REJECTION, base):
        page_.check(f"#runs tr[data-ids='{run_id}'] input[type=checkbox]")
    chart = "#rejection-chart"
    page_.wait_for_selector(f"{chart}[data-ratios='1'][data-reference='{BEST_BY_REJECTION}']")
    # the panel below the rejection curves: one ratio line (the other run's), the reference's
    # ratio is the line at 1; SVG only (no WebGL canvas)
    assert page_.locator(f"{chart} .subplot.xy2 .scatterlayer .trace").count() == 1
    assert page_.locator(f"{chart} .subplot.xy .scatterlayer .trace").count() == 2
    assert page_.locator(f"{chart} canvas").count() == 0
    drawn = page_.evaluate(
        """(id) => { const gd = document.getElementById(id);
        const panel = gd.data.filter((t) => t.yaxis === "y2");
        return { types: gd.data.map((t) => t.type), n: panel.length,
                 name: panel[0].hovertemplate, one: gd.layout.shapes.map((s) => [s.yref, s.y0, s.y1]),
                 title: gd.layout.yaxis2.title.text, half: panel[0].y[500] }; }""",
        "rejection-chart",
    )
    assert set(drawn["types"]) == {"scatter"} and drawn["n"] == 1
    assert base in drawn["name"] and drawn["one"] == [["y2", 1, 1]]
    assert drawn["title"] == f"ratio to {BEST_BY_REJECTION}"
    assert 0 < drawn["half"] < 1  # the base run rejects less than the best one at eps_S = 0.5
    # picking the other reference flips the ratio
    assert page_.input_value("#ratio-reference") == BEST_BY_REJECTION
    page_.select_option("#ratio-reference", base)
    page_.wait_for_selector(f"{chart}[data-ratios='1'][data-reference='{base}']")
    half = page_.evaluate(
        "(id) => document.getElementById(id).data.filter((t) => t.yaxis === 'y2')[0].y[500]",
        "rejection-chart",
    )
    assert half > 1 and half == pytest.approx(1 / drawn["half"])
    # one run alone: no ratio panel
    page_.uncheck(f"#runs tr[data-ids='{base}'] input[type=checkbox]")
    page_.wait_for_selector(f"{chart}[data-curves='1'][data-ratios='0']")
    assert page_.locator(f"{chart} .subplot.xy2").count() == 0


def test_new_runs_and_epochs_appear_live(  # about 7 s: it waits for the pages' polls
    page: tuple[Page, Watch], server: str, outputs: Path
) -> None:
    page_, _ = page
    new_id = "20260107-000000-new-123456"
    try:
        page_.goto(f"{server}/run?id={LIVE}")
        page_.wait_for_selector("#epochs[data-epochs='2']", timeout=15_000)
        page_.wait_for_selector("#curve-0[data-points='2']")
        assert page_.inner_text("#state") == "running"
        layout.write_history(outputs / LIVE / layout.HISTORY, history_rows(3))
        # live: the new epoch is drawn without a reload (the page polls every 2 s)
        page_.wait_for_selector("#epochs[data-epochs='3']", timeout=LIVE_TIMEOUT_MS)
        page_.wait_for_selector("#curve-0[data-points='3']", timeout=LIVE_TIMEOUT_MS)

        open_runs(page_, server, 6)
        RUNS[new_id] = ("completed", "new", {"model": {"dropout": 0.6}}, 2.0, 30.0, 0.9)
        try:
            make_run(outputs, new_id)
        finally:
            del RUNS[new_id]
        page_.wait_for_selector(f"#runs tr[data-ids='{new_id}']", timeout=LIVE_TIMEOUT_MS)
    finally:  # the module's other tests see the folder as it was
        shutil.rmtree(outputs / new_id, ignore_errors=True)
        layout.write_history(outputs / LIVE / layout.HISTORY, history_rows(2))


def test_html_in_run_files_is_shown_as_text(page: tuple[Page, Watch], server: str) -> None:
    page_, _ = page
    open_runs(page_, server, 6)
    row = "#runs tr[data-ids='20260106-000000-xss-ffffff']"
    cells = page_.eval_on_selector_all(f"{row} td", "cells => cells.map(c => c.textContent)")
    assert SCRIPT_NAME in cells and "<b>bold</b>" in cells
    headers = page_.eval_on_selector_all("#runs th", "cells => cells.map(c => c.textContent)")
    assert f"model.{IMG_KEY}" in [h.rstrip(" ▲▼") for h in headers]
    assert page_.locator("#runs img, #runs script, #runs b").count() == 0
    page_.check(f"{row} input[type=checkbox]")
    page_.wait_for_selector("#roc-chart[data-curves='1']", timeout=20_000)
    assert SCRIPT_NAME not in (
        page_.text_content("#roc-chart .legend") or ""
    )  # the id, not the name
    page_.goto(f"{server}/run?id=20260106-000000-xss-ffffff")
    page_.wait_for_function("() => document.querySelector('#run-name').textContent.length > 0")
    assert page_.inner_text("#run-name") == SCRIPT_NAME
    spec = page_.eval_on_selector_all("#spec td", "cells => cells.map(c => c.textContent)")
    assert f"model.{IMG_KEY}" in spec and "<b>bold</b>" in spec
    page_.wait_for_selector("#curve-0[data-points='5']", timeout=20_000)
    assert page_.locator("main b, main script").count() == 0
    # the one image is the run's own figure, loaded from this server
    page_.wait_for_function(
        "() => [...document.querySelectorAll('#figures img')].every(i => i.complete && i.naturalWidth)"
    )
    assert page_.locator("main img").count() == 1
    assert page_.get_attribute("#figures img", "alt") == "overtraining.png"
    assert page_.evaluate("window.__xss") is None


def make_many(folder: Path, n: int) -> Path:
    """`n` finished runs (spec, status, metrics, history; no predictions), ids in time order."""
    import yaml

    from expctl.runs.atomic import atomic_write_json

    for i in range(n):
        run_id = f"20260101-{i:06d}-run{i}-{i:06x}"
        path = folder / run_id
        path.mkdir(parents=True)
        spec = {
            "name": f"run{i}",
            "seed": i % 3,
            "model": {"type": "mlp", "hidden": [16 * (1 + i % 4)], "dropout": 0.05 * (i % 10)},
            "train": {"optimizer": {"name": "adam", "learning_rate": [1e-3, 3e-3, 1e-2][i % 3]}},
        }
        (path / layout.SPEC).write_text(yaml.safe_dump(spec, sort_keys=False))
        training = {"epochs_trained": 5, "best_epoch": 4}
        status = {"status": "completed", "run_id": run_id, "name": f"run{i}", "duration_s": 10.0}
        atomic_write_json(path / layout.STATUS, {**status, "training": training})
        metrics = {"loss": 0.4, "auc": 0.8 + (i % 97) / 1000, "rejection_at_50": 10 + i % 50}
        atomic_write_json(path / layout.METRICS, {**metrics, **training})
        layout.write_history(path / layout.HISTORY, history_rows(5))
    return folder


@pytest.mark.slow  # 8-25 s (load-dependent): writes 1,000 runs, then five page loads
def test_a_thousand_runs_page_sorts_and_shows_more(browser: Browser, tmp_path: Path) -> None:
    """A dashboard over 1,000 runs (one row each, ?group=0): the first 100 rows drawn, a header
    click re-sorts all 1,000 with the best first, *show more* draws the next 100. How fast is
    measured by benchmarks/bench_ui.py, not asserted here (the machine's load decides)."""
    import urllib.request

    folder = make_many(tmp_path / "many", 1000)
    process, url = start_ui(folder)
    try:
        with urllib.request.urlopen(url + "api/runs?group=0", timeout=60) as answer:
            assert len(json.loads(answer.read())["rows"]) == 1000  # the server has read them
        for _ in range(2):  # a second load: the server's cache of unchanged runs
            page = browser.new_page()
            page.goto(url + "?group=0")
            page.wait_for_selector("#runs tbody tr", timeout=30_000)
            assert page.locator("#runs tbody tr").count() == 100
            assert page.inner_text("#count") == "1000 runs of 1000 read"
            page.click("#runs th[data-column='rejection_at_50']")
            page.wait_for_selector("#runs th.sorted-desc", timeout=30_000)
            assert row_ids(page)[0] == "20260101-000049-run49-000031"  # rejection 59: first
            page.click("#more")
            page.wait_for_function(
                "() => document.querySelectorAll('#runs tbody tr').length == 200"
            )
            page.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_run_that_finishes_shows_its_results(
    page: tuple[Page, Watch], server: str, outputs: Path
) -> None:
    """The run page of a running run turns into the finished run's page (metrics, figures) when
    its status.json says completed; no reload."""
    from expctl.runs.atomic import atomic_write_json

    run = outputs / "20260109-000000-late-0000aa"
    RUNS[run.name] = ("running", "late", {"model": {"dropout": 0.7}}, None, None, None)
    try:
        make_run(outputs, run.name)
        page_, _ = page
        page_.goto(f"{server}/run?id={run.name}")
        page_.wait_for_selector("#state.status-running", timeout=15_000)
        page_.wait_for_selector("#metrics td")
        assert page_.inner_text("#metrics") == "(when the run finishes)"
        finished = make_run(outputs.parent / "finished", BEST_BY_REJECTION)
        for name in (layout.METRICS, layout.PREDICTIONS):
            shutil.copy(finished / name, run / name)
        layout.plot_path(run, "overtraining.png").write_bytes(
            layout.plot_path(finished, "overtraining.png").read_bytes()
        )
        atomic_write_json(run / layout.STATUS, {"status": "completed", "name": "late"})
        page_.wait_for_selector("#state.status-completed", timeout=LIVE_TIMEOUT_MS)
        page_.wait_for_selector("#roc-chart[data-curves='1']", timeout=LIVE_TIMEOUT_MS)
        assert page_.locator("#metrics tr").count() == 5
        assert page_.locator("#figures img").count() == 1
    finally:
        del RUNS[run.name]
        shutil.rmtree(run, ignore_errors=True)


def test_a_biasvar_experiment_page_draws_its_points(
    page: tuple[Page, Watch], server: str, outputs: Path
) -> None:
    run = make_biasvar(outputs)
    try:
        page_, _ = page
        page_.goto(f"{server}/run?id={run.name}")
        page_.wait_for_selector("#points-chart[data-points='2']", timeout=20_000)
        cells = page_.eval_on_selector_all("#points td", "cells => cells.map(c => c.textContent)")
        assert "high bias: <underfits>" in cells and "model.degree=8" in cells
        assert page_.locator("#points-chart .scatterlayer .trace").count() == 4
    finally:
        shutil.rmtree(run, ignore_errors=True)


def test_a_sweeps_trials_folder_is_reached_from_dir(
    page: tuple[Page, Watch], server: str, outputs: Path
) -> None:
    trials = make_study(outputs)
    try:
        page_, _ = page
        open_runs(page_, server, 6)
        page_.click("#folders a[data-folder='study/trials']", timeout=20_000)
        page_.wait_for_function(
            "() => document.querySelectorAll('#runs tbody tr').length === 2", timeout=15_000
        )
        assert page_.url.endswith("/?folder=study%2Ftrials")
        assert page_.inner_text("#directory").endswith("study/trials")
        page_.click("#runs th[data-column='rejection_at_50']")
        page_.wait_for_selector("#runs th.sorted-desc")
        assert row_ids(page_)[0] == "20260201-000000-t0001-000002"
        for run_id in row_ids(page_):
            page_.check(f"#runs tr[data-ids='{run_id}'] input[type=checkbox]")
        page_.wait_for_selector("#roc-chart[data-curves='2']", timeout=20_000)
        page_.click("#runs tr[data-ids='20260201-000000-t0001-000002'] a")
        page_.wait_for_selector("#curve-0[data-points='5']", timeout=20_000)
        assert page_.inner_text("#run-name") == "t0001"
        assert page_.inner_text("#run-id") == "study/trials/20260201-000000-t0001-000002"
        page_.click("#back")
        page_.wait_for_function(
            "() => document.querySelectorAll('#runs tbody tr').length === 2", timeout=15_000
        )
    finally:
        shutil.rmtree(trials.parent, ignore_errors=True)


def test_the_study_panel_draws_history_and_slices(page: tuple[Page, Watch], server: str) -> None:
    page_, _ = page
    open_runs(page_, server, 6)
    page_.click("#study summary")
    page_.wait_for_selector("#history-chart[data-runs='3']", timeout=20_000)
    page_.wait_for_selector("#slice-chart[data-key='model.dropout']")
    assert page_.input_value("#study-metric") == "auc"
    # three runs with an auc; the best so far steps up once, to the wide run
    assert page_.locator("#history-chart .scatterlayer .trace").count() == 2
    page_.select_option("#study-metric", "loss")
    page_.wait_for_function(
        "() => document.querySelector('#history-chart .ytitle').textContent.startsWith('loss')"
    )
    assert "lower is better" in (page_.text_content("#history-chart .ytitle") or "")
    page_.select_option("#study-key", f"model.{IMG_KEY}")
    page_.wait_for_selector("#slice-chart[data-key]")
    assert page_.get_attribute("#slice-chart", "data-key") == f"model.{IMG_KEY}"
    assert page_.locator("#slice-chart img, #slice-chart b").count() == 0


def test_a_sweep_page_shows_trials_history_and_best_spec(
    page: tuple[Page, Watch], server: str, outputs: Path
) -> None:
    sweep = make_sweep(outputs)
    try:
        page_, _ = page
        open_runs(page_, server, 6)
        page_.click("#folders a[data-sweep='study']", timeout=20_000)
        page_.wait_for_selector("#history-chart[data-trials='2']", timeout=20_000)
        assert page_.url.endswith("/sweep?folder=study")
        assert page_.inner_text("#sweep-name") == "study"
        cells = page_.eval_on_selector_all(
            "#trials tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        assert [c[:3] for c in cells] == [
            ["0", "COMPLETE", "0.800000"],
            ["1", "COMPLETE", "0.900000"],
            ["2", "FAIL", ""],
            ["3", "RUNNING", ""],
        ]
        assert cells[2][-1] == "<script>window.__xss=3</script>"  # text, not markup
        assert page_.evaluate("window.__xss") is None
        assert page_.get_attribute("#trials tr.selected", "data-trial") == "1"  # the best
        best = page_.eval_on_selector_all("#best td", "cells => cells.map(c => c.textContent)")
        assert "model.dropout" in best and "0.4" in best
        assert "best trial 1 of sweep study" in page_.inner_text("#best-notes")
        assert "higher is better" in (page_.text_content("#history-chart .ytitle") or "")
        # trial points and the best-so-far line
        assert page_.locator("#history-chart .scatterlayer .trace").count() == 2
        # parallel coordinates: one SVG polyline per COMPLETE trial (not the failed or running
        # one) over the axes model.dropout (log), model.hidden (categorical), val_auc
        chart = "#parcoords-chart"
        page_.wait_for_selector(f"{chart}[data-lines='2']", timeout=20_000)
        assert page_.locator(f"{chart} canvas").count() == 0
        drawn = page_.evaluate(
            """(id) => { const gd = document.getElementById(id);
            return { types: gd.data.map((t) => t.type), x: gd.data.map((t) => t.x),
              y: Object.fromEntries(gd.data.map((t) => [t.meta, t.y])),
              axes: gd.layout.xaxis.ticktext,
              labels: gd.layout.annotations.map((a) => [a.x, a.y, a.text]) }; }""",
            "parcoords-chart",
        )
        assert drawn["types"] == ["scatter", "scatter"]
        assert drawn["x"] == [[0, 1, 2], [0, 1, 2]]
        assert drawn["axes"] == ["model.dropout (log)", "model.hidden", "val_auc"]
        # trial 1 (val_auc 0.9) is the best: 1 on the objective's axis; trial 0 (0.8) is 0;
        # dropout 0.1 and 0.4 span the log axis; [32] and [64] are the two categories
        assert drawn["y"] == {"0": [0, 0, 0], "1": [1, 1, 1]}
        labels = drawn["labels"]
        assert [0, 1, "0.4"] in labels and [0, 0.5, "0.2"] in labels  # log: 0.1·4^0.5 = 0.2
        assert [1, 0, "[32]"] in labels and [1, 1, "[64]"] in labels
        assert [2, 1, "0.9"] in labels and [2, 0, "0.8"] in labels
        assert "<script>" not in str(labels)  # the failed trial's value is not on an axis
        # plotly's drag layer covers the points: move the mouse onto trial 1's objective point
        box = (
            page_.locator(f"{chart} .scatterlayer .trace:nth-child(2) .point").nth(2).bounding_box()
        )
        assert box is not None
        page_.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page_.wait_for_selector(f"{chart} .hoverlayer .hovertext", timeout=5_000)
        hover = page_.text_content(f"{chart} .hoverlayer") or ""
        assert "trial 1" in hover and "[64]" in hover and "0.9" in hover
        page_.click("#trials tr[data-trial='1'] a")
        page_.wait_for_selector("#curve-0[data-points='5']", timeout=20_000)
        assert page_.inner_text("#run-id") == "study/trials/20260201-000000-t0001-000002"
    finally:
        shutil.rmtree(sweep, ignore_errors=True)
