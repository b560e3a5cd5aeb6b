"""Where a study lives: Optuna's journal file (default) or an RDB URL, and dead-worker detection.

The default is a journal file in the sweep directory: safe for several processes on one machine
(appends under a lock), unlike SQLite with parallel writers. `--storage` takes any Optuna RDB URL
(postgresql://, mysql://, sqlite:///) to share one study between machines.

A trial whose worker died stays RUNNING. Two ways to notice it, both ending the same way (the trial
becomes FAIL and RetryHeartbeatStaleTrialCallback enqueues a copy with the same parameters):
- RDB storages: Optuna's heartbeat (each running trial updates a timestamp; trials silent for the
  grace period are failed by `fail_stale_trials`), which works across machines;
- every storage: liveness of the worker's process, recorded with each RUNNING trial as host, pid and
  process start time (a reused pid has a different start time). Only workers on this host can be
  checked; the journal file is meant for one machine anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from expctl.errors import BadInputError, did_you_mean
from expctl.masking import connectable, is_masked, mask

#: A trial is retried this many times when its worker dies (a trial that kills every worker that
#: runs it, e.g. out of memory, stops being retried).
MAX_RETRY = 2
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 60
#: Environment variables that change them (seconds, whole numbers; e.g. shorter on a cluster
#: whose nodes die often, or in tests). Every host of a study should use the same values.
HEARTBEAT_ENV = "EXPCTL_HEARTBEAT_S"
GRACE_ENV = "EXPCTL_HEARTBEAT_GRACE_S"


#: How long a worker waits for its database to come back (a server restart, a network blip).
RECONNECT_S = 60.0


def transient_errors() -> tuple[type[BaseException], ...]:
    """What a lost or refused database connection raises (the server restarting, a blip)."""
    import sqlalchemy.exc

    return (
        optuna.exceptions.StorageInternalError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
    )


def retrying(call: Callable[[], Any], patience_s: float = RECONNECT_S) -> Any:
    """`call()`, called again while the database is unreachable, for up to `patience_s` seconds.

    For idempotent storage operations only (reading trials, telling a trial's result, failing
    stale trials): a connection lost mid-operation is rolled back by Optuna's session, and the
    pool (pre-ping) opens a new connection on the next try. A result already recorded by the
    try that lost its connection is not recorded twice: Optuna refuses to update a finished
    trial (`UpdateFinishedTrialError`, or study.tell's "Cannot tell a COMPLETE trial" when it reads
    the trial back finished), and that refusal on a retry means the first try went through.
    """
    transient = transient_errors()
    deadline = time.monotonic() + patience_s
    delay, tried = 0.5, False
    while True:
        try:
            return call()
        except optuna.exceptions.UpdateFinishedTrialError:
            if tried:
                return None
            raise
        except ValueError as exc:
            if tried and str(exc).startswith("Cannot tell a"):
                return None  # study.tell found the trial finished: the lost try recorded it
            raise
        except transient:
            if time.monotonic() > deadline:
                raise
        tried = True
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def heartbeat_settings() -> tuple[int, int]:
    """(heartbeat interval, grace period) in seconds: the defaults or the environment's values.

    BadInputError when a value is not a whole number of seconds >= 1, or the grace period is not
    longer than the interval (a live worker would be failed between two heartbeats).
    """
    values = []
    for name, default in ((HEARTBEAT_ENV, HEARTBEAT_INTERVAL_S), (GRACE_ENV, GRACE_PERIOD_S)):
        text = os.environ.get(name, "").strip()
        if not text:
            values.append(default)
            continue
        if not text.isdigit() or int(text) < 1:
            raise BadInputError(f"{name}={text!r}: give a whole number of seconds, at least 1")
        values.append(int(text))
    interval, grace = values
    if grace <= interval:
        raise BadInputError(
            f"{GRACE_ENV}={grace} must be longer than {HEARTBEAT_ENV}={interval}: a live worker "
            "would be taken for dead between two heartbeats"
        )
    return interval, grace


JOURNAL_NAME = "journal.log"


@dataclass(frozen=True)
class StorageInfo:
    """An opened storage and whether its running trials can only come from this machine."""

    storage: BaseStorage
    url: str
    local: bool


def _journal(url: str, sweep_dir: Path) -> StorageInfo:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = url.removeprefix("journal://") if url.startswith("journal://") else ""
    file = Path(path) if path else sweep_dir / JOURNAL_NAME
    file.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(file)))
    return StorageInfo(storage=storage, url=f"journal://{file}", local=True)


#: Attempts at opening an RDB storage whose schema another host is creating at the same moment.
SCHEMA_ATTEMPTS = 5


def _rdb_storage(url: str, interval: int, grace: int) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage at `url`, retried while another host creates the same schema.

    Two hosts starting one study on an empty database both issue Optuna's CREATE TYPE/TABLE;
    the loser gets a unique-key violation (PostgreSQL) or "already exists". The schema is
    there by then, so opening again succeeds; any other error is raised at once.
    """
    import sqlalchemy.exc

    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=interval,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRY
                    ),
                    engine_kwargs={"pool_pre_ping": True},
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)
    raise AssertionError("unreachable")


def _rdb(url: str, sweep_dir: Path) -> StorageInfo:
    """Optuna's RDBStorage at `url`; BadInputError saying what to fix when it cannot be opened.

    A URL whose password is the mask `***` (copied from expctl's output or files) is not sent
    with `***`: for PostgreSQL the password is left out, so the driver reads PGPASSWORD or
    ~/.pgpass; other databases refuse it.
    """
    import re

    import sqlalchemy.engine

    shown = f"storage URL {mask(url)}"
    masked = is_masked(url)
    target = connectable(url)
    if target is None:
        raise BadInputError(
            f"{shown}: its password is the mask *** that expctl prints, not a password; "
            "give the real one (in the URL, or in EXPCTL_STORAGE to keep it off the "
            "command line)"
        )
    url = target
    interval, grace = heartbeat_settings()
    try:
        storage = _rdb_storage(url, interval, grace)
    except ImportError as exc:
        raise BadInputError(
            f"{shown}: the database driver is not installed ({exc}); e.g. "
            "pip install 'expctl[postgres]' (psycopg 3, what postgresql:// means; in a clone: "
            "uv sync --extra postgres), PyMySQL for mysql+pymysql://"
        ) from None
    except Exception as exc:  # sqlalchemy's errors: bad URL, refused connection, ...
        # the driver's own words (psycopg: "connection failed: ... FATAL: ..."), on one line
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())
        try:
            parts = sqlalchemy.engine.make_url(url)
            host, port, user = parts.host or "localhost", parts.port or 5432, parts.username
            database = parts.database
        except Exception:  # an unparsable URL: the generic hint below
            host, port, user, database = "HOST", 5432, "USER", "NAME"
        hints = (
            (
                r"password authentication failed|Access denied for user",
                "check the user name and password (in the URL, or PGPASSWORD / ~/.pgpass "
                "when the URL has none)",
            ),
            (
                r"no password supplied",
                (
                    "its password was *** (the mask expctl prints), so it was left out: "
                    if masked
                    else ""
                )
                + "give the password in PGPASSWORD or ~/.pgpass (or in the URL, kept off the "
                "command line in EXPCTL_STORAGE)",
            ),
            (
                r'database "[^"]*" does not exist|Unknown database',
                f"create the database first: createdb -h {host} -p {port} -U {user} {database}",
            ),
            (r'role "[^"]*" does not exist', f"check the user name ({user}): no such role"),
            (
                r"Connection refused|resolve host|translate host|timeout|No route to host",
                f"is a database server running at {host}:{port} and reachable from here? "
                "check the host and port in the URL",
            ),
            (
                r"unable to open database file",
                "check that the SQLite file's folder exists and is writable",
            ),
        )
        hint = next(
            (h for pattern, h in hints if re.search(pattern, why)),
            "check the URL's form: postgresql://user:password@host:port/database",
        )
        raise BadInputError(f"{shown}: cannot open the database: {mask(why)}\n  {hint}") from None
    return StorageInfo(storage=storage, url=url, local=url.startswith("sqlite:"))


#: URL scheme -> opener. No URL: the journal file in the sweep directory.
STORAGES: dict[str, Callable[[str, Path], StorageInfo]] = {
    "journal": _journal,
    "sqlite": _rdb,
    "postgresql": _rdb,
    "mysql": _rdb,
}


def open_storage(url: str | None, sweep_dir: Path) -> StorageInfo:
    """The study's storage at `url` (`--storage` or EXPCTL_STORAGE; None: the journal file in
    `sweep_dir`). BadInputError (exit 2, the URL's password masked, what to fix) when it is not
    a storage URL or cannot be opened; nothing is written then."""
    if not url:
        return _journal("", sweep_dir)
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in STORAGES:
        schemes = [f"{s}://" for s in STORAGES]
        raise BadInputError(
            f"storage URL {mask(url)!r}: expected a URL starting with "
            + ", ".join(schemes)
            + (did_you_mean(f"{scheme}://", schemes) if "://" in url else "")
            + "; e.g. postgresql://user:password@host:5432/db, sqlite:///sweep.db"
        )
    return STORAGES[scheme](url, sweep_dir)


# ------------------------------------------------------------------------------------- liveness


def _start_time(pid: int) -> str | None:
    """The process start time (clock ticks since boot) from /proc; None where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19]  # field 22 of stat; fields[0] is field 3 (the state)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def worker_stamp() -> dict[str, Any]:
    """What identifies this process: host, pid and start time."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid)}


def is_alive(stamp: dict[str, Any]) -> bool | None:
    """Whether the stamped process still runs; None when it is on another host (cannot tell)."""
    if stamp.get("host") != socket.gethostname():
        return None
    pid = int(stamp.get("pid", -1))
    if pid <= 0:
        return False
    if Path("/proc").is_dir():
        state = _state(pid)
        if state is None or state in ("Z", "X"):  # gone, or a zombie its parent has not reaped
            return False
        return stamp.get("start") is None or _start_time(pid) == stamp["start"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_trials(
    study: optuna.Study,
    info: StorageInfo,
    on_dead: Callable[[FrozenTrial, str], None] = lambda t, r: None,
    every_host_locked: bool = False,
) -> list[int]:
    """Fail (and enqueue a retry of) every RUNNING trial whose worker is gone; their numbers.

    Call it while holding the study lock (expctl.sweep.locks): a RUNNING trial without a worker
    stamp is then one whose worker died between asking and stamping, not one being stamped right
    now, if that lock excludes every worker that can have it: on a local storage, or where
    `every_host_locked` (the lock is held in the database for every host).
    """
    if isinstance(info.storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)  # the heartbeat: other machines' workers too
    storage = study._storage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        stamp = trial.user_attrs.get("worker")
        dead = (info.local or every_host_locked) if stamp is None else is_alive(stamp) is False
        if not dead:
            continue
        who = f"pid {stamp['pid']} on {stamp['host']}" if stamp else "unknown"
        reason = f"worker died during the trial ({who}); retried with the same parameters"
        try:
            storage.set_trial_user_attr(trial._trial_id, "error", reason)
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another worker got there first
        failed = storage.get_trial(trial._trial_id)
        retry(study, failed)
        on_dead(failed, reason)
        reaped.append(trial.number)
    return reaped


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """An exclusive lock of this machine's workers (released by the kernel if a worker dies)."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / ".sweep.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
