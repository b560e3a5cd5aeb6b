"""Run lifecycle against real processes: signals, SIGKILL (crashed), and runs started at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.runs.store import CRASHED, live_status, process_alive, process_start

ROOT = Path(__file__).resolve().parents[1]

#: Long enough to be caught mid-training (each epoch well under a second).
LONG = {
    "name": "long",
    "seed": 1,
    "data": {"source": "jets", "n_samples": 2000},
    "model": {"hidden": [16]},
    "train": {"batch_size": 64, "epochs": 500},
}


def _start(tmp_path: Path, ignore_sigint: bool = False) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "long.yaml"
    spec.write_text(yaml.safe_dump(LONG))
    out = tmp_path / "out"

    def ignore() -> None:  # what a shell does for a job started in the background
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,
    )
    return proc, out


def _wait_for_epochs(proc: subprocess.Popen, out: Path, epochs: int = 2) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for run in out.glob("*/history.csv") if out.exists() else []:
            if len(run.read_text().splitlines()) > epochs:  # header + rows
                return run.parent
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the run did not reach its epochs in time")


def _status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


@pytest.mark.parametrize(
    ("sig", "code", "ignore_sigint"),
    [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False), (signal.SIGINT, 130, True)],
)
def test_a_signal_marks_the_run_interrupted_and_keeps_its_history(
    tmp_path: Path, sig: int, code: int, ignore_sigint: bool
) -> None:
    proc, out = _start(tmp_path, ignore_sigint)
    run = _wait_for_epochs(proc, out)
    before = (run / "history.csv").read_text().splitlines()  # written atomically: whole rows
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    status = _status(run)
    assert status["status"] == "interrupted"
    assert signal.Signals(sig).name in status["error"]
    assert status["duration_s"] > 0
    history = (run / "history.csv").read_text().splitlines()
    assert history[: len(before)] == before  # nothing written before is lost or changed
    header = history[0].split(",")
    epochs = [int(row.split(",")[header.index("epoch")]) for row in history[1:]]
    assert epochs == list(range(1, len(epochs) + 1))  # one row per epoch, none twice
    assert all(len(row.split(",")) == len(header) for row in history[1:])
    assert (run / "spec.yaml").is_file()
    assert not list(run.glob(".*tmp*"))  # no half-written file left behind


def test_sigkill_leaves_running_which_readers_report_as_crashed(tmp_path: Path) -> None:
    proc, out = _start(tmp_path)
    run = _wait_for_epochs(proc, out, epochs=1)
    proc.kill()
    proc.wait(timeout=30)
    assert _status(run)["status"] == "running"  # nobody could write anything else
    listing = CliRunner().invoke(cli, ["list", str(out)])
    assert listing.exit_code == 0 and CRASHED in listing.output, listing.output
    shown = CliRunner().invoke(cli, ["show", str(run), "--json"])
    assert json.loads(shown.output)["status"]["status"] == CRASHED
    compared = CliRunner().invoke(cli, ["compare", str(out), "--format", "json"])
    assert compared.exit_code == 0, compared.output
    assert CRASHED in compared.output


def test_live_status_uses_pid_host_and_start_time() -> None:
    me = os.getpid()
    base = {"status": "running", "host": socket.gethostname(), "pid": me}
    started = process_start(me)
    assert started is not None and process_alive(me, started)
    assert live_status({**base, "process_start": started})["status"] == "running"
    # the same pid, but a different process (pid reuse): crashed
    assert live_status({**base, "process_start": "other-boot:1"})["status"] == CRASHED
    # a process that no longer exists
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert live_status({**base, "pid": gone.pid, "process_start": None})["status"] == CRASHED
    # another host cannot be checked from here; final statuses are never touched
    assert live_status({**base, "host": "elsewhere", "pid": gone.pid})["status"] == "running"
    assert live_status({**base, "status": "completed", "pid": gone.pid})["status"] == "completed"


@pytest.mark.slow
def test_eight_runs_started_at_once_give_eight_complete_runs(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                **LONG,
                "name": "same",
                "data": {"source": "jets", "n_samples": 400},
                "train": {"batch_size": 64, "epochs": 1},
            }
        )
    )
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(runs) == 8 and len({r.name for r in runs}) == 8
    metrics = set()
    for run in runs:
        assert _status(run)["status"] == "completed"
        for name in ("spec.yaml", "metrics.json", "history.csv", "predictions.npz", "model.keras"):
            assert (run / name).is_file(), (run, name)
        metrics.add((run / "metrics.json").read_text())
    assert len(metrics) == 1  # same spec, same seed: the same numbers, whatever ran beside it


def test_disk_full_marks_the_run_failed_naming_the_path(
    tmp_path: Path, write_spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import expctl.runner.pipeline
    from expctl.runs import atomic

    real = atomic.atomic_save

    def full(path: Path, write) -> None:
        if Path(path).name == "model.keras":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, write)

    monkeypatch.setattr(expctl.runner.pipeline, "atomic_save", full)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(write_spec()), "--output-dir", str(out), "-q"])
    assert result.exit_code == 1, result.output
    (run,) = list(out.iterdir())
    status = _status(run)
    assert status["status"] == "failed"
    assert "No space left on device" in status["error"] and "model.keras" in status["error"]
    # what was written before is intact
    assert json.loads((run / "metrics.json").read_text())["auc"] > 0.5
    assert len((run / "history.csv").read_text().splitlines()) == 3
    assert "Errno 28" in (run / "traceback.txt").read_text()
