"""Sweeps on a real PostgreSQL server: two processes ("hosts") share one study.

The server is a throw-away one started by conftest's fixture (tests/pgserver.py: initdb in a
temporary folder, password authentication, listening on 127.0.0.1 on a free port); the tests skip,
saying why, where PostgreSQL's server programs are not installed (`apt-get install postgresql`).
"""

from __future__ import annotations

import csv
import datetime
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY
from pgserver import GRID23_POINTS, PASSWORD, PgServer, can_rename_host, write_grid23

ROOT = Path(__file__).resolve().parents[1]


def _sweep(spec: Path, url: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expctl",
            "sweep",
            str(spec),
            "--storage",
            url,
            "--study",
            "grid23",
            "--output-dir",
            str(out),
            "--smoke",
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow  # two processes train a 2x3 grid (smoke-sized): about a minute on 2 cores
def test_two_hosts_share_a_grid_on_postgresql(postgres: str, tmp_path: Path) -> None:
    spec = write_grid23(tmp_path / "grid.yaml", "grid23")
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    # both start at the same instant: whichever creates the study enqueues the grid, once (the
    # study lock in the database; before it, both enqueued it about 1 time in 5)
    procs = [_sweep(spec, postgres, host) for host in hosts]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
        assert PASSWORD not in output and "expctl:***@127.0.0.1" in output
    # the host that created the study says so (not "resuming" its own freshly enqueued grid)
    assert sum("resuming" not in output for output in outputs) == 1, outputs

    # every point of the grid trained exactly once, by one host or the other
    trained = sorted(p.name for out in hosts for p in (out / "grid23" / "trials").iterdir())
    assert len(trained) == 6, trained
    # a host that finishes first writes sweep.csv as the study stood then; any host, afterwards,
    # writes the whole study's outputs from the database alone (nothing left to train)
    reader = tmp_path / "host-c"
    proc = _sweep(spec, postgres, reader)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0 and PASSWORD not in output, output
    assert not (reader / "grid23" / "trials").exists() or not any(
        (reader / "grid23" / "trials").iterdir()
    )
    with open(reader / "grid23" / "sweep.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    points = {(r["model.hidden"], r["model.l2"]) for r in complete}
    expected = GRID23_POINTS
    # the grid was enqueued once (by whichever host came first): six trials in all
    assert len(rows) == 6 and len(complete) == 6 and points == expected, rows
    assert {r["run"] for r in complete} == {name for name in trained}
    assert {r["host"] for r in complete} == {socket.gethostname()}

    # the password is written nowhere: run directories, sweep folders
    for out in [*hosts, reader]:
        for path in out.rglob("*"):
            if path.is_file():
                assert PASSWORD.encode() not in path.read_bytes(), path


def _on_host(host: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`argv` run as if on machine `host`: in a UTS namespace whose host name is `host`."""
    script = 'hostname "$0" && exec "$@"'
    return subprocess.Popen(
        ["unshare", "-u", "sh", "-c", script, host, *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


@pytest.mark.slow  # trains a 3-point grid twice over (about a minute on 2 cores)
def test_a_killed_host_is_found_by_the_heartbeat_of_another_host(
    postgres: str, tmp_path: Path
) -> None:
    if not can_rename_host():
        pytest.skip("cannot give a process its own host name here (needs root and unshare -u)")
    import time

    url = postgres.rsplit("/", 1)[0] + "/postgres"  # a study of its own, in the default database
    spec = tmp_path / "grid.yaml"
    data = {
        **TINY,
        "name": "fault",
        "data": {"source": "jets", "n_samples": 3000},
        "train": {**TINY["train"], "epochs": 40},  # a few seconds a trial: time to kill one
        "sweep": {
            "method": "grid",
            "space": {"model.hidden": {"type": "choice", "values": [[4], [8], [16]]}},
        },
    }
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    # short heartbeat for the test: every second, dead after 3 s of silence
    env = {**os.environ, "EXPCTL_HEARTBEAT_S": "1", "EXPCTL_HEARTBEAT_GRACE_S": "3"}
    sweep = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url]
    sweep += ["--study", "fault", "-q"]
    host_a = _on_host("host-a", [*sweep, "--output-dir", str(tmp_path / "a")], env)
    trials_a = tmp_path / "a" / "fault" / "trials"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until host a is inside its first trial's epochs
        histories = list(trials_a.glob("*/history.csv")) if trials_a.is_dir() else []
        if histories and len(histories[0].read_text().splitlines()) >= 3:
            break
        assert host_a.poll() is None, host_a.communicate()[0]
        time.sleep(0.1)
    else:
        pytest.fail("host a never started a trial")
    os.killpg(host_a.pid, 9)  # the whole machine goes away: no clean-up, no status written
    host_a.wait()
    killed_at = datetime.datetime.now()  # Optuna stamps trials with the local time too
    host_b = _on_host("host-b", [*sweep, "--output-dir", str(tmp_path / "b")], env)
    output = host_b.communicate(timeout=600)[0]
    assert host_b.returncode == 0, output

    with open(tmp_path / "b" / "fault" / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    failed = [r for r in rows if r["state"] == "FAIL"]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert len(failed) == 1 and failed[0]["host"] == "host-a", rows
    # the killed trial was run again, with its parameters, on the host that found it dead
    assert len(complete) == 3, rows
    assert {r["model.hidden"] for r in complete} == {"[4]", "[8]", "[16]"}
    retry = [r for r in complete if r["model.hidden"] == failed[0]["model.hidden"]]
    assert len(retry) == 1 and retry[0]["host"] == "host-b", rows
    # failed by the heartbeat: not before its grace period ran out after the kill, and soon after
    # it (host b looks at start-up and before each trial; its start-up takes seconds)
    import optuna

    study = optuna.load_study(study_name="fault", storage=url)
    dead = study.trials[int(failed[0]["trial"])]
    delay = (dead.datetime_complete - killed_at).total_seconds()
    assert 3 - 1 <= delay < 3 + 60, delay  # grace 3 s, less the heartbeat interval (1 s)


def test_heartbeat_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from expctl.errors import BadInputError
    from expctl.sweep.storage import GRACE_ENV, HEARTBEAT_ENV, heartbeat_settings

    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    monkeypatch.delenv(GRACE_ENV, raising=False)
    assert heartbeat_settings() == (10, 60)
    monkeypatch.setenv(HEARTBEAT_ENV, "2")
    monkeypatch.setenv(GRACE_ENV, " 5 ")
    assert heartbeat_settings() == (2, 5)
    for interval, grace, message in [
        ("0", "5", "at least 1"),
        ("1.5", "5", "whole number"),
        ("5", "5", "longer than"),
    ]:
        monkeypatch.setenv(HEARTBEAT_ENV, interval)
        monkeypatch.setenv(GRACE_ENV, grace)
        with pytest.raises(BadInputError, match=message):
            heartbeat_settings()


@pytest.mark.slow  # trains a 4-point grid (about a minute on 2 cores)
def test_a_sweep_survives_a_database_restart(pg_server: PgServer, tmp_path: Path) -> None:
    import time

    url = pg_server.url("postgres")
    spec = tmp_path / "grid.yaml"
    data = {
        **TINY,
        "name": "restart",
        "data": {"source": "jets", "n_samples": 3000},
        "train": {**TINY["train"], "epochs": 30},
        "sweep": {
            "method": "grid",
            "space": {"model.hidden": {"type": "choice", "values": [[4], [6], [8], [12]]}},
        },
    }
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url]
    argv += ["--study", "restart", "--output-dir", str(out)]
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    trials = out / "restart" / "trials"
    deadline = time.monotonic() + 180
    while not (trials.is_dir() and list(trials.glob("*/metrics.json"))):  # one trial done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.1)
    pg_server.restart()  # the server goes down and comes back while the next trial trains
    outputs = [proc.communicate(timeout=600)[0]]
    # the worker waited for the server and went on: the study completed in one go
    assert proc.returncode == 0, outputs
    assert "Traceback" not in outputs[0], outputs

    with open(out / "restart" / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    complete = [r["model.hidden"] for r in rows if r["state"] == "COMPLETE"]
    # every point once: none lost, none counted twice, nothing failed
    assert sorted(complete) == sorted(["[4]", "[6]", "[8]", "[12]"]), rows
    assert len(rows) == 4, rows


@pytest.mark.slow  # one smoke trial on the server (about 15 s)
def test_the_password_can_come_from_pgpassword(postgres: str, tmp_path: Path) -> None:
    url = postgres.replace(f":{PASSWORD}@", "@").rsplit("/", 1)[0] + "/postgres"
    assert PASSWORD not in url
    spec = tmp_path / "one.yaml"
    data = {
        **TINY,
        "sweep": {"method": "grid", "space": {"model.l2": {"type": "choice", "values": [0.0]}}},
    }
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    argv = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url, "--smoke"]
    argv += ["--study", "pgpass", "--output-dir", str(tmp_path / "out")]
    refused = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PGPASSWORD"},
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "password" in refused.stderr and "Traceback" not in refused.stderr
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PGPASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 trials: 1 COMPLETE" in done.stdout


@pytest.mark.slow  # two hosts train 8 tiny trials between them (about a minute on 2 cores)
def test_two_hosts_share_a_random_study_budget(pg_server: PgServer, tmp_path: Path) -> None:
    """`trials: 8` on two hosts started at once: 8 COMPLETE trials in all, each run directory in
    the folder of the host that sweep.csv names (host names of their own where the machine can)."""
    spec = tmp_path / "random.yaml"
    data = {
        **TINY,
        "name": "random8",
        "sweep": {
            "method": "random",
            "trials": 8,
            "metric": "val_loss",
            "space": {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}},
        },
    }
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    url = pg_server.url()
    named = can_rename_host()
    procs = {}
    for host in ("host-a", "host-b"):
        argv = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url, "-q"]
        argv += ["--study", "random8", "--output-dir", str(tmp_path / host)]
        if named:
            procs[host] = _on_host(host, argv, dict(os.environ))
        else:
            procs[host] = subprocess.Popen(
                argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
    for host, proc in procs.items():
        output = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, (host, output)

    reader = tmp_path / "reader"
    argv = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url]
    done = subprocess.run(
        [*argv, "--study", "random8", "--output-dir", str(reader), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open(reader / "random8" / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and all(r["state"] == "COMPLETE" for r in rows), rows
    assert len({r["model.dropout"] for r in rows}) == 8  # no point drawn twice
    for row in rows:
        folder = (
            row["host"]
            if named
            else next(
                h for h in procs if (tmp_path / h / "random8" / "trials" / row["run"]).is_dir()
            )
        )
        assert (tmp_path / folder / "random8" / "trials" / row["run"] / "metrics.json").is_file()
    if named:
        assert {r["host"] for r in rows} <= {"host-a", "host-b"}
