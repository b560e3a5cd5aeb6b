"""The Slurm recipe experiments/slurm/sweep.sbatch: its syntax, its #SBATCH header, and two array
tasks run here as Slurm would run them (its SLURM_* variables, the project folder as the submit
directory) sharing one grid study on the throw-away PostgreSQL server (tests/pgserver.py).

Slurm itself is not installed: the script does not call srun or any other Slurm program, so
running it with bash and Slurm's environment is what a compute node does with it.
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest
from conftest import TINY
from pgserver import GRID23_POINTS, PASSWORD, can_rename_host, write_grid23

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "slurm" / "sweep.sbatch"


def test_the_script_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_sbatch_directives_come_before_the_first_command() -> None:
    # sbatch reads #SBATCH lines only up to the first line that is neither a comment nor blank:
    # a directive after it would be silently ignored
    lines = SCRIPT.read_text().splitlines()
    assert lines[0] == "#!/bin/bash"
    first_command = next(
        i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")
    )
    directives = {
        line.split()[1].split("=")[0]
        for line in lines[:first_command]
        if line.startswith("#SBATCH ")
    }
    assert {"--array", "--cpus-per-task", "--time", "--output"} <= directives
    assert not [line for line in lines[first_command:] if line.lstrip().startswith("#SBATCH")]


def test_the_storage_comes_from_the_environment_and_no_password_is_written() -> None:
    text = SCRIPT.read_text()
    # expctl sweep reads EXPCTL_STORAGE itself: the URL is never on a command line (ps)
    assert "--storage" not in text.split("#SBATCH --signal")[1]
    # the URLs shown in the script's comments carry no password
    assert "PASSWORD@" not in text and ":***@" not in text


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "EXPCTL_"))}
    env["EXPCTL_OUTPUT_ROOT"] = str(tmp_path / "out")
    return {**env, **extra}


def test_bad_use_exits_2_and_says_what_is_missing(tmp_path: Path) -> None:
    no_args = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=_env(tmp_path)
    )
    assert no_args.returncode == 2 and "usage: sbatch" in no_args.stderr, no_args.stderr
    no_storage = subprocess.run(
        ["bash", str(SCRIPT), "spec.yaml", "study"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert no_storage.returncode == 2, no_storage.stderr
    assert "EXPCTL_STORAGE is not set" in no_storage.stderr
    assert not (tmp_path / "out").exists()


def _task(
    node: str | None, env: dict[str, str], args: list[str], log: Path
) -> subprocess.Popen[bytes]:
    """The batch script as slurmd starts it on `node` (its own host name where this is allowed)."""
    argv = ["bash", str(SCRIPT), *args]
    if node is not None:
        argv = ["unshare", "-u", "sh", "-c", 'hostname "$0" && exec "$@"', node, *argv]
    with open(log, "wb") as fh:  # as --output=slurm-%A_%a.out: stdout and stderr in one file
        return subprocess.Popen(argv, cwd=log.parent, stdout=fh, stderr=subprocess.STDOUT, env=env)


@pytest.mark.slow  # two array tasks train a 2x3 grid of small runs: about 60 s on 2 cores
def test_two_array_tasks_share_a_grid_on_postgresql(postgres: str, tmp_path: Path) -> None:
    url = postgres.replace(f":{PASSWORD}@", "@")  # the password from PGPASSWORD, as recommended
    assert PASSWORD not in url
    # a few seconds a trial: both tasks get work
    spec = write_grid23(
        tmp_path / "grid.yaml",
        "slurmgrid",
        data={"source": "jets", "n_samples": 2000},
        train={**TINY["train"], "epochs": 6},
    )
    nodes = ["node-a", "node-b"] if can_rename_host() else [None, None]
    # what slurmd sets for task i of array job 4242 (job ids 4243, 4244), submitted from ROOT
    common = {
        "SLURM_ARRAY_JOB_ID": "4242",
        "SLURM_ARRAY_TASK_MIN": "0",
        "SLURM_ARRAY_TASK_MAX": "1",
        "SLURM_ARRAY_TASK_COUNT": "2",
        "SLURM_SUBMIT_DIR": str(ROOT),
        "SLURM_CPUS_PER_TASK": "1",
        "SLURM_JOB_NAME": "expctl-sweep",
        "EXPCTL_STORAGE": url,
        "PGPASSWORD": PASSWORD,
    }
    args = [str(spec), "slurmgrid", "-q"]
    procs = []
    for task, node in enumerate(nodes):
        env = _env(
            tmp_path,
            **common,
            SLURM_ARRAY_TASK_ID=str(task),
            SLURM_JOB_ID=str(4243 + task),
            SLURMD_NODENAME=node or "localhost",
        )
        procs.append(_task(node, env, args, tmp_path / f"slurm-4242_{task}.out"))
    for proc in procs:
        proc.wait(timeout=600)
    logs = [(tmp_path / f"slurm-4242_{task}.out").read_text() for task in (0, 1)]
    assert [proc.returncode for proc in procs] == [0, 0], logs
    folders = [tmp_path / "out" / "4242" / f"task-{task}" / "slurmgrid" for task in (0, 1)]
    trained = [sorted(p.name for p in (f / "trials").iterdir()) for f in folders]
    # both tasks took part (they started at the same instant: the grid was enqueued once)
    assert all(trained), trained

    # the same script submitted again (a new job): nothing left to train, it writes the whole
    # study's sweep.csv from the database
    env = _env(tmp_path, **{**common, "SLURM_ARRAY_JOB_ID": "4250", "SLURM_ARRAY_TASK_ID": "0"})
    again = _task(None, env, args, tmp_path / "slurm-4250_0.out")
    again.wait(timeout=300)
    log = (tmp_path / "slurm-4250_0.out").read_text()
    assert again.returncode == 0, log
    reader = tmp_path / "out" / "4250" / "task-0" / "slurmgrid"
    assert not any((reader / "trials").iterdir())
    with open(reader / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    points = sorted((r["model.hidden"], r["model.l2"]) for r in rows if r["state"] == "COMPLETE")
    expected = sorted(GRID23_POINTS)
    # each point of the grid ran exactly once, by one task or the other
    assert len(rows) == 6 and points == expected, rows
    assert sorted(r["run"] for r in rows) == sorted(trained[0] + trained[1])
    for task, node in enumerate(nodes):
        mine = {r["run"] for r in rows if r["run"] in trained[task]}
        assert mine == set(trained[task])
        if node is not None:  # the host column names the node whose folder holds the run
            assert {r["host"] for r in rows if r["run"] in mine} == {node}, rows

    # the password is nowhere in the logs or in the files written
    for text in [*logs, log]:
        assert PASSWORD not in text
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
