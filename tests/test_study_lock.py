"""The study lock coordinates every host of a study through its database (expctl.sweep.locks).

Each "host" here is a separate process with its own sweep folder (so no local file lock is
shared between them) opening the same study on the throw-away PostgreSQL server of conftest's
`pg_server` fixture. No training: the trials' objective is a cheap function, so the races are
exercised many times a second.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY
from optuna.trial import TrialState
from pgserver import GRID23

from expctl.spec.sweep import Document, sweep_from_dict
from expctl.sweep.locks import SHARED_LOCKS, kind, lock_key, shared_across_hosts, study_lock
from expctl.sweep.space import Space
from expctl.sweep.storage import open_storage
from expctl.sweep.study import Outcome, load_study, open_study, worker_loop

RANDOM = {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}


def _data(method: str, trials: int | None = None) -> dict[str, Any]:
    sweep: dict[str, Any] = {"method": method, "metric": "val_loss"}
    sweep["space"] = GRID23 if method == "grid" else RANDOM
    if trials is not None:
        sweep["trials"] = trials
    return {**TINY, "sweep": sweep}


def _loaded(data: dict[str, Any], folder: Path):
    return sweep_from_dict(data, Document(data, "test.yaml"), folder)


def test_lock_keys_are_stable_signed_64_bit_and_differ_by_study() -> None:
    keys = {lock_key(f"study-{i}") for i in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key("a") == lock_key("a") != lock_key("b")


def test_every_storage_kind_but_mysql_is_locked_across_its_users(tmp_path: Path) -> None:
    journal = open_storage(None, tmp_path / "j")
    sqlite = open_storage(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "s")
    assert (kind(journal), kind(sqlite)) == ("journal", "sqlite")
    assert shared_across_hosts(journal) and shared_across_hosts(sqlite)
    assert set(SHARED_LOCKS) == {"postgresql", "sqlite", "journal"}


def test_an_sqlite_file_shared_by_two_sweep_folders_is_locked_between_them(
    tmp_path: Path,
) -> None:
    """Two folders (no common .sweep.lock) on one database file: the second waits for the first."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = open_storage(url, tmp_path / "a"), open_storage(url, tmp_path / "b")
    order: list[str] = []
    held = threading.Event()

    def other() -> None:
        held.wait()
        with study_lock(second, "s", tmp_path / "b"):
            order.append("second in")

    thread = threading.Thread(target=other)
    thread.start()
    with study_lock(first, "s", tmp_path / "a"):
        held.set()
        time.sleep(0.5)
        order.append("first out")
    thread.join(10)
    assert order == ["first out", "second in"]


def test_postgres_lock_excludes_other_connections_per_study(pg_server, tmp_path: Path) -> None:
    url = pg_server.url()
    first, second = open_storage(url, tmp_path / "a"), open_storage(url, tmp_path / "b")
    assert kind(first) == "postgresql" and shared_across_hosts(first)
    order: list[str] = []
    held = threading.Event()

    def other(study: str) -> None:
        held.wait()
        with study_lock(second, study, tmp_path / f"b-{study}"):
            order.append(f"{study} in")

    same = threading.Thread(target=other, args=("lock-x",))
    another = threading.Thread(target=other, args=("lock-y",))
    same.start()
    another.start()
    with study_lock(first, "lock-x", tmp_path / "a"):
        held.set()
        another.join(10)  # another study's lock is not held: it got in at once
        time.sleep(0.5)
        order.append("x out")
    same.join(10)
    assert order == ["lock-y in", "x out", "lock-x in"]


_HOLDER = """
import sys, time
from pathlib import Path
from expctl.sweep.locks import study_lock
from expctl.sweep.storage import open_storage
info = open_storage(sys.argv[1], Path(sys.argv[2]))
with study_lock(info, "lock-killed", Path(sys.argv[2])):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_releases_the_postgres_lock(pg_server, tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, pg_server.url(), str(tmp_path / "holder")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        info = open_storage(pg_server.url(), tmp_path / "me")
        got = threading.Event()

        def take() -> None:
            with study_lock(info, "lock-killed", tmp_path / "me"):
                got.set()

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        assert not got.wait(1.0)  # held by the other process
        os.kill(holder.pid, signal.SIGKILL)
        assert got.wait(20), "the lock of a killed process was not released"
    finally:
        holder.kill()
        holder.wait()


# ----------------------------------------------------------------- hosts racing on one study


def _host_opens(url: str, folder: str, study: str, barrier: Any, out: Any) -> None:
    """One host: wait for the others, then open (create) the study at the same instant."""
    lsweep = _loaded(_data("grid"), Path(folder))
    space = Space(lsweep.sweep.space)
    info = open_storage(url, Path(folder) / study)
    barrier.wait()
    _, new = open_study(lsweep, info, study, space, Path(folder) / study)
    out.put(new)


def _fake(trial: Any, params: dict[str, Any]) -> Outcome:
    time.sleep(0.05)  # long enough for the other hosts to ask meanwhile
    return Outcome(TrialState.COMPLETE, value=float(params.get("model.dropout", 0.0)))


def _host_works(url: str, folder: str, study: str, barrier: Any, out: Any) -> None:
    """One host: open the random study at the same instant as the others, then run trials.

    The budget is in the study's name (`...-t<budget>`)."""
    budget = int(study.rsplit("-t", 1)[1])
    lsweep = _loaded(_data("random", trials=budget), Path(folder))
    space = Space(lsweep.sweep.space)
    sweep_dir = Path(folder) / study
    info = open_storage(url, sweep_dir)
    barrier.wait()
    opened, _ = open_study(lsweep, info, study, space, sweep_dir)
    worker = load_study(lsweep, info, study, worker=int(Path(folder).name[-1]))
    assert opened.study_name == worker.study_name
    out.put(worker_loop(worker, info, space, lsweep.sweep.n_trials, sweep_dir, _fake))


def _race(target: Any, url: str, tmp_path: Path, study: str, hosts: int) -> list[Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(hosts), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, str(tmp_path / f"host{i}"), study, barrier, out))
        for i in range(hosts)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0, f"host process ended with {proc.exitcode}"
    return [out.get(timeout=5) for _ in procs]


@pytest.mark.slow  # 5 rounds of 4 processes opening a study at once: about 20 s
def test_hosts_creating_one_grid_study_at_once_enqueue_it_once(pg_server, tmp_path: Path) -> None:
    import optuna

    for round_ in range(5):
        study = f"race-grid-{round_}"
        news = _race(_host_opens, pg_server.url(), tmp_path / study, study, hosts=4)
        assert sorted(news) == [False, False, False, True], news  # one host created it
        trials = optuna.load_study(study_name=study, storage=pg_server.url()).get_trials()
        fixed = [t.system_attrs["fixed_params"] for t in trials]  # WAITING: not asked yet
        points = sorted((p["model.hidden"], p["model.l2"]) for p in fixed)
        assert len(trials) == 6 and len(set(points)) == 6, points


@pytest.mark.slow  # 4 rounds of 3-4 processes sharing a random study: about 30 s
def test_hosts_sharing_a_random_study_use_its_budget_exactly(pg_server, tmp_path: Path) -> None:
    """Hosts that start at one instant all check the budget at once: a budget smaller than the
    number of hosts is overshot without the lock (each host sees it unused and asks)."""
    import optuna

    for round_, (budget, hosts) in enumerate([(8, 3), (2, 4), (1, 4), (3, 4)]):
        study = f"race-budget-{round_}-t{budget}"
        ran = _race(_host_works, pg_server.url(), tmp_path / study, study, hosts=hosts)
        trials = optuna.load_study(study_name=study, storage=pg_server.url()).get_trials()
        assert sum(ran) == budget and len(trials) == budget, (ran, len(trials))
        assert all(t.state == TrialState.COMPLETE for t in trials)
        if budget > 1:
            workers = {t.user_attrs["worker"]["pid"] for t in trials}
            assert len(workers) >= 2, "one host ran every trial: the test did not race"


def test_a_retried_tell_that_finds_its_trial_finished_counts_as_done(monkeypatch) -> None:
    """A tell whose connection dropped after the server committed it: the retry reads the trial
    back COMPLETE and Optuna refuses ("Cannot tell a COMPLETE trial"): that is success. The same
    refusal on a first try is an error."""
    import sqlalchemy.exc

    from expctl.sweep import storage

    monkeypatch.setattr(storage.time, "sleep", lambda s: None)
    calls = []

    def tell() -> None:
        calls.append(1)
        if len(calls) == 1:  # committed on the server, the acknowledgement lost
            raise sqlalchemy.exc.OperationalError("tell", {}, Exception("server closed"))
        raise ValueError("Cannot tell a COMPLETE trial.")

    assert storage.retrying(tell) is None and len(calls) == 2

    def refused() -> None:
        raise ValueError("Cannot tell a COMPLETE trial.")

    with pytest.raises(ValueError, match="Cannot tell"):
        storage.retrying(refused)


def test_the_heartbeat_survives_a_database_outage(monkeypatch) -> None:
    """A beat that cannot reach the database (a server restart) is skipped, the next one tries
    again: the thread neither dies nor prints a traceback (Optuna's own thread did both)."""
    import threading
    import time

    import sqlalchemy.exc
    from optuna.storages._heartbeat import BaseHeartbeat

    from expctl.sweep.study import Heartbeat

    class Storage(BaseHeartbeat):
        def __init__(self) -> None:
            self.beats = 0

        def record_heartbeat(self, trial_id: int) -> None:
            self.beats += 1
            if self.beats in (2, 3):  # the server is down for two beats
                raise sqlalchemy.exc.OperationalError("beat", {}, Exception("server closed"))

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            return []

        def get_heartbeat_interval(self) -> int:
            return 0.01  # type: ignore[return-value]

        def get_heartbeat_stale_trial_callback(self) -> None:
            return None

    hooked: list[object] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    storage = Storage()
    with Heartbeat(7, storage) as beat:
        deadline = time.monotonic() + 10
        while storage.beats < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert storage.beats >= 6 and beat.missed == 2
    assert hooked == []
    assert beat.thread is not None and not beat.thread.is_alive()
