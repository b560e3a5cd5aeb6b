"""The study lock: what must happen once per study, whichever worker on whichever host gets there.

Three steps of a sweep must not interleave between workers: creating a study and enqueuing its
grid (else two hosts starting at the same instant both enqueue it), and, before each trial,
reaping dead workers' trials, checking the budget and asking for the next trial (else two workers
both take the last trial of the budget). `study_lock` serialises them in two layers:

- this machine's workers: an flock on the sweep directory's `.sweep.lock` (`sweep_lock`);
- every host of the study: a lock held by the storage itself, chosen by what the storage is
  (`SHARED_LOCKS`): a PostgreSQL session advisory lock keyed by the study name (released by
  the server if the holder's connection dies), or an flock beside an SQLite database or a
  journal file (whose users are on one machine anyway).

Storages with no entry (MySQL) are coordinated on each machine only: documented, start one host
first and allow up to one extra trial a host beyond the budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from expctl.sweep.storage import StorageInfo, retrying, sweep_lock

SharedLock = Callable[[StorageInfo, str], contextlib.AbstractContextManager[None]]


def lock_key(study: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, from the study name."""
    digest = hashlib.sha256(f"expctl-study:{study}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _postgres(info: StorageInfo, study: str) -> Iterator[None]:
    """A session advisory lock on its own connection, waited for while the server is down."""
    import sqlalchemy

    engine = info.storage.engine  # type: ignore[attr-defined]
    key = lock_key(study)
    take = sqlalchemy.text("SELECT pg_advisory_lock(:key)")
    give = sqlalchemy.text("SELECT pg_advisory_unlock(:key)")

    def acquire() -> Any:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(take, {"key": key})
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        return conn

    conn = retrying(acquire)
    try:
        yield
    finally:
        try:
            conn.execute(give, {"key": key})
        except Exception:
            # the connection is gone, and with it the lock (the server released it): drop it
            conn.invalidate()
        finally:
            conn.close()


@contextlib.contextmanager
def _file_beside(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".expctl.lock"), "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _sqlite(info: StorageInfo, study: str) -> Iterator[None]:
    """An flock beside the database file (several sweep folders may share one file)."""
    import sqlalchemy

    database = sqlalchemy.engine.make_url(info.url).database
    if not database or database == ":memory:":
        yield
        return
    with _file_beside(Path(database).resolve()):
        yield


@contextlib.contextmanager
def _journal(info: StorageInfo, study: str) -> Iterator[None]:
    """An flock beside the journal file (a `journal://` path may be shared by sweep folders)."""
    with _file_beside(Path(info.url.removeprefix("journal://")).resolve()):
        yield


#: storage kind (`kind(info)`) -> the lock every host of a study takes
SHARED_LOCKS: dict[str, SharedLock] = {
    "postgresql": _postgres,
    "sqlite": _sqlite,
    "journal": _journal,
}


def kind(info: StorageInfo) -> str:
    """`journal`, or the RDB's SQLAlchemy dialect name (`postgresql`, `sqlite`, `mysql`, ...)."""
    engine = getattr(info.storage, "engine", None)
    return "journal" if engine is None else str(engine.dialect.name)


def shared_across_hosts(info: StorageInfo) -> bool:
    """Whether `study_lock` excludes the workers of every host (not only this machine's)."""
    return kind(info) in SHARED_LOCKS


@contextlib.contextmanager
def study_lock(info: StorageInfo, study: str, sweep_dir: Path) -> Iterator[None]:
    """Exclusive among this study's workers: this machine's, and every host's where the storage
    can lock (`SHARED_LOCKS`). Hold it briefly: other workers wait."""
    shared = SHARED_LOCKS.get(kind(info))
    with sweep_lock(sweep_dir):
        if shared is None:
            yield
            return
        with shared(info, study):
            yield
