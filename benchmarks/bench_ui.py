"""Benchmark `expctl ui` over 1,000 run directories: server time, Chromium's time, memory while following.

    uv run python benchmarks/bench_ui.py [--runs 1000] [--repeats 5] [--follow-s 60] [--keep DIR]

Three measurements, each printed as it finishes (medians of `--repeats`, plus min and max):

1. The runs table's JSON (`expctl.ui.payloads.runs_table`, what /api/runs answers) over `--runs`
   finished runs: cold (a fresh reader: every run's files parsed) and warm (the reader of the
   running server: unchanged finished runs come from memory), grouped and sorted one row a run.
2. The real command (`python -m expctl ui DIR --port 0`) in headless Chromium: time from
   navigation start to the table's first page painted, and from a header click to the 1,000 runs
   re-sorted by the server and painted again (Chromium's own clock, `performance.now()`); and the
   warm /api/runs over HTTP.
3. Following a running run for `--follow-s` seconds (600 = the issue's ten minutes): its run page
   and the runs page open, a new epoch written every second; the server's resident memory
   (VmRSS) every `--sample-s` seconds, and whether the page shows the last epoch.

The runs are written into a temporary folder through `expctl.runs.layout` (spec, status,
metrics, history; seven spec keys that vary, three seeds of each point) and removed afterwards unless
`--keep`. Steps 2 and 3 need Playwright and /usr/bin/chromium (`.ci/run` installs it); without
them they are skipped, saying so. Say the machine's load when quoting the numbers: it is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from expctl.runs import layout
from expctl.runs.atomic import atomic_write_json
from expctl.runs.store import process_start

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
#: The id of the run that trains while step 3 follows it.
LIVE_ID = "20260201-000000-live-00000a"
#: A promise that resolves after the next frame is painted, with Chromium's clock.
PAINTED = """() => new Promise(done => requestAnimationFrame(() => setTimeout(
    () => done(performance.now()), 0)))"""


# ----------------------------------------------------------------------------- the run folders


def history_rows(epochs: int) -> list[dict[str, float]]:
    """A plausible history.csv: losses falling, AUCs rising."""
    return [
        {
            "epoch": e,
            "loss": 0.7 - 0.05 * e / (1 + 0.01 * e),
            "val_loss": 0.72 - 0.04 * e / (1 + 0.01 * e),
            "auc": 0.6 + 0.3 * e / (e + 5),
            "val_auc": 0.58 + 0.3 * e / (e + 5),
            "learning_rate": 0.001,
            "epoch_time_s": 1.0,
        }
        for e in range(1, epochs + 1)
    ]


def spec_of(i: int) -> dict[str, Any]:
    """Run i's resolved spec: seed i % 3; seven other keys vary with i // 3 (seed groups of 3)."""
    return {
        "name": f"run{i}",
        "seed": i % 3,
        "data": {"source": "jets", "n_samples": 20000, "signal_fraction": 0.5},
        "model": {
            "type": "mlp",
            "hidden": [[64, 64], [128, 64], [32]][(i // 3) % 3],
            "activation": ["relu", "gelu"][(i // 9) % 2],
            "dropout": round(0.05 * ((i // 3) % 10), 2),
            "l2": [0.0, 1.0e-4, 1.0e-3][(i // 18) % 3],
        },
        "train": {
            "optimizer": {"name": "adam", "learning_rate": [1e-3, 3e-3, 1e-2][(i // 9) % 3]},
            "batch_size": [128, 256][(i // 27) % 2],
            "epochs": 20,
        },
    }


def write_run(folder: Path, i: int) -> Path:
    """One finished run, i-th in time order, written through `expctl.runs.layout`."""
    run_id = f"20260101-{i:06d}-run{i}-{i:06x}"
    path = folder / run_id
    path.mkdir(parents=True)
    spec = spec_of(i)
    (path / layout.SPEC).write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    training = {"epochs_trained": 20, "best_epoch": 18, "stopped_epoch": None}
    status = {"status": "completed", "run_id": run_id, "name": spec["name"], "error": None}
    atomic_write_json(
        path / layout.STATUS, {**status, "duration_s": 60.0 + i, "training": training}
    )
    metrics = {
        "loss": 0.4 + (i % 89) / 1000,
        "accuracy": 0.8 + (i % 83) / 1000,
        "auc": 0.8 + (i % 97) / 1000,
        "rejection_at_50": 10.0 + i % 50,
        "rejection_at_90": 2.0 + i % 7,
    }
    atomic_write_json(path / layout.METRICS, {**metrics, **training})
    layout.write_history(path / layout.HISTORY, history_rows(20))
    return path


def write_runs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_run(folder, i)
    return folder


def write_live_run(folder: Path) -> Path:
    """A running run whose process is this benchmark (so the server does not call it crashed)."""
    path = folder / LIVE_ID
    shutil.rmtree(path, ignore_errors=True)  # left by an earlier --keep run
    path.mkdir(parents=True)
    spec = spec_of(0) | {"name": "live"}
    (path / layout.SPEC).write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    pid = os.getpid()
    status = {
        "status": "running",
        "run_id": LIVE_ID,
        "name": "live",
        "pid": pid,
        "host": socket.gethostname(),
        "process_start": process_start(pid),
    }
    atomic_write_json(path / layout.STATUS, status)
    layout.write_history(path / layout.HISTORY, history_rows(1))
    return path


# ------------------------------------------------------------------------------------ helpers


def summary(values: list[float], unit: str = "ms") -> str:
    return (
        f"median {statistics.median(values):.0f} {unit} "
        f"(min {min(values):.0f}, max {max(values):.0f}; n={len(values)})"
    )


def timed_ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def server(folder: Path) -> Iterator[tuple[str, int]]:
    """`expctl ui FOLDER --port 0` in a subprocess: its URL and process id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "expctl", "ui", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    url = next((line.split()[1] for line in lines if line.startswith("open ")), None)
    try:
        if url is None:
            raise SystemExit(f"expctl ui did not start: {lines}")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        return answer.read()


def browser_missing() -> str | None:
    """Why steps 2 and 3 cannot run, or None."""
    if not CHROMIUM.exists():
        return f"no {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (uv sync: the dev group)"
    return None


# ------------------------------------------------------------------------------ measurements


def bench_payload(folder: Path, repeats: int) -> None:
    from expctl.ui import payloads

    root = folder.resolve()
    cold, warm, sorted_flat = [], [], []
    for _ in range(repeats):
        source = payloads.RunsSource(root)
        table = partial(payloads.runs_table, source)
        cold.append(timed_ms(table))
        warm.append(timed_ms(table))
        sorted_flat.append(timed_ms(partial(table, sort="rejection_at_50", group=False)))
    table = payloads.runs_table(source, group=False)
    size = len(json.dumps(table, separators=(",", ":"))) / 1000
    print(f"/api/runs payload, cold (every run parsed):  {summary(cold)}")
    print(f"/api/runs payload, warm (seed groups):       {summary(warm)}")
    print(f"/api/runs payload, warm, one row a run, sorted:  {summary(sorted_flat)}")
    print(f"  {len(table['rows'])} rows, {size:.0f} kB of JSON")


def bench_browser(folder: Path, repeats: int, n_runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with server(folder) as (url, pid):
        first = timed_ms(lambda: get(url + "api/runs?group=0"))  # often met the warm-up thread
        http = [timed_ms(lambda: get(url + "api/runs?group=0")) for _ in range(repeats)]
        print(f"GET /api/runs?group=0 over HTTP: first {first:.0f} ms, then {summary(http)}")
        shown, resorted = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for _ in range(repeats):
                    page = browser.new_page()
                    page.goto(url + "?group=0")
                    page.wait_for_selector("#runs tbody tr", timeout=60_000)
                    shown.append(page.evaluate(PAINTED))
                    count = page.inner_text("#count")
                    if count != f"{n_runs} runs of {n_runs} read":
                        raise SystemExit(f"the page shows {count!r}, not {n_runs} runs")
                    start = page.evaluate("() => performance.now()")
                    page.click("#runs th[data-column='rejection_at_50']")
                    page.wait_for_selector("#runs th.sorted-desc", timeout=60_000)
                    resorted.append(page.evaluate(PAINTED) - start)
                    page.close()
            finally:
                browser.close()
        print(f"Chromium, navigation start -> table painted: {summary(shown)}")
        print(f"Chromium, header click -> {n_runs} runs re-sorted and painted: {summary(resorted)}")
        print(f"server RSS after these loads: {rss_mb(pid):.0f} MB")


def bench_follow(folder: Path, seconds: float, sample_s: float) -> None:
    from playwright.sync_api import sync_playwright

    live = write_live_run(folder)
    epochs = 1
    samples: list[tuple[float, float, int]] = []
    with server(folder) as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            runs_page = browser.new_page()  # the runs page polls too
            runs_page.goto(url)
            runs_page.wait_for_selector("#runs tbody tr", timeout=60_000)
            page = browser.new_page()
            page.goto(f"{url}run?id={LIVE_ID}")
            page.wait_for_selector("#epochs[data-epochs='1']", timeout=60_000)
            start = time.monotonic()
            next_sample = start
            while (elapsed := time.monotonic() - start) < seconds:
                if time.monotonic() >= next_sample:
                    shown = int(page.get_attribute("#epochs", "data-epochs") or 0)
                    samples.append((elapsed, rss_mb(pid), shown))
                    print(
                        f"  {elapsed:5.0f} s: server RSS {samples[-1][1]:.1f} MB, "
                        f"epochs written {epochs}, shown {shown}",
                        flush=True,
                    )
                    next_sample += sample_s
                epochs += 1
                layout.write_history(live / layout.HISTORY, history_rows(epochs))
                page.wait_for_timeout(1000)
            page.wait_for_selector(f"#epochs[data-epochs='{epochs}']", timeout=15_000)
            samples.append((time.monotonic() - start, rss_mb(pid), epochs))
        finally:
            browser.close()
    shutil.rmtree(live, ignore_errors=True)
    rss = [s[1] for s in samples]
    print(
        f"followed a run for {samples[-1][0]:.0f} s ({epochs} epochs, all shown): server RSS "
        f"{rss[0]:.1f} MB at start, {rss[-1]:.1f} MB at the end, max {max(rss):.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="finished runs in the folder")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each timing")
    parser.add_argument(
        "--follow-s", type=float, default=60, help="seconds to follow a live run (0: skip)"
    )
    parser.add_argument("--sample-s", type=float, default=30, help="seconds between RSS samples")
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them")
    args = parser.parse_args()

    print(f"expctl ui benchmark: {args.runs} runs, {args.repeats} repeats; {load_text()}")
    temp = None if args.keep else tempfile.mkdtemp(prefix="bench_ui_")
    folder = args.keep if args.keep else Path(temp or ".") / "outputs"
    try:
        if not folder.exists() or not any(folder.iterdir()):
            start = time.perf_counter()
            write_runs(folder, args.runs)
            print(f"wrote {args.runs} runs in {time.perf_counter() - start:.1f} s to {folder}")
        bench_payload(folder, args.repeats)
        missing = browser_missing()
        if missing:
            print(f"skipped the browser and the follow: {missing}")
            return
        bench_browser(folder, args.repeats, args.runs)
        if args.follow_s > 0:
            print(f"following a running run for {args.follow_s:.0f} s ({load_text()})")
            bench_follow(folder, args.follow_s, args.sample_s)
        print(f"done; {load_text()}")
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
