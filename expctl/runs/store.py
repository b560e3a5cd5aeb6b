"""Run directories: unique ids, exclusive creation, atomic files and the status lifecycle.

A run directory is never overwritten: it is created with `mkdir` (which fails if it exists) under
an id made of the time, the run name and a random part. Every file is written to a temporary name
in the same directory, flushed to disk and renamed into place, so a reader sees the old file or
the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from expctl.runs import layout
from expctl.runs.atomic import atomic_write_json, read_json

STATUSES = ("running", "completed", "failed", "diverged", "interrupted")
FINAL_STATUSES = ("completed", "failed", "diverged", "interrupted")
#: What readers report for a `running` run whose recorded process no longer exists (SIGKILL,
#: power loss): never written to status.json, derived from it by `live_status`.
CRASHED = "crashed"


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When process `pid` started, as "<boot id>:<clock ticks since boot>" (Linux), else None.

    A pid alone is not an identity: pids are reused. With the boot and the start tick, a
    recorded process is the same one only if both match.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{_boot_id()}:{fields[19]}"  # field 22 of stat: starttime


def process_alive(pid: int, started: str | None) -> bool:
    """Whether process `pid` exists and (when `started` is known) is the one that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if started is None:
        return True
    now = process_start(pid)
    return now is None or now == started


def live_status(status: dict[str, Any]) -> dict[str, Any]:
    """`status` with `running` replaced by `crashed` when its process is gone from this host.

    A run recorded on another host cannot be checked from here and stays `running`.
    """
    if status.get("status") != "running" or status.get("host") != socket.gethostname():
        return status
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return status
    if process_alive(pid, status.get("process_start")):
        return status
    return {**status, "status": CRASHED, "error": "the process running it is gone (killed?)"}


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp with seconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def make_run_id(name: str, when: dt.datetime | None = None) -> str:
    """`YYYYmmdd-HHMMSS-<name>-<6 hex>`: sorts by time, names the run, never repeats."""
    when = when or dt.datetime.now()
    return f"{when:%Y%m%d-%H%M%S}-{name}-{secrets.token_hex(3)}"


class RunDir:
    """One run's directory and its status file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.id = self.path.name
        self._status: dict[str, Any] = {}

    @classmethod
    def create(cls, output_dir: Path, name: str) -> RunDir:
        """Create a new, empty run directory under `output_dir` (created if needed), exclusively."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            path = output_dir / make_run_id(name)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            (path / layout.PLOTS).mkdir()
            return cls(path)
        raise RuntimeError(f"could not create a unique run directory in {output_dir}")

    def file(self, name: str) -> Path:
        return self.path / name

    def start(self, name: str, version: str, **extra: Any) -> None:
        """Write the initial `running` status with what identifies this process (and `extra`,
        e.g. a bias/variance experiment's `kind`)."""
        self._status = {
            "status": "running",
            "run_id": self.id,
            "name": name,
            "started_at": utc_now(),
            "ended_at": None,
            "duration_s": None,
            "error": None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "process_start": process_start(os.getpid()),
            "expctl_version": version,
            **extra,
        }
        atomic_write_json(self.file(layout.STATUS), self._status)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory, its status read from status.json (ValueError if unreadable)."""
        run_dir = cls(path)
        status = read_json(run_dir.file(layout.STATUS))
        if not isinstance(status, dict):
            raise ValueError(f"{run_dir.file(layout.STATUS)}: not a JSON object")
        run_dir._status = status
        return run_dir

    @property
    def status(self) -> dict[str, Any]:
        return dict(self._status)

    def restart(self, version: str, **extra: Any) -> None:
        """Mark the run `running` again in this process (a resume), keeping what it recorded."""
        self._status.update(
            status="running",
            ended_at=None,
            duration_s=None,
            error=None,
            pid=os.getpid(),
            host=socket.gethostname(),
            process_start=process_start(os.getpid()),
            expctl_version=version,
            **extra,
        )
        atomic_write_json(self.file(layout.STATUS), self._status)

    def finish(
        self, status: str, duration_s: float, error: str | None = None, **extra: Any
    ) -> None:
        """Record the final status (completed, failed, diverged or interrupted)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status!r}")
        self._status.update(
            status=status, ended_at=utc_now(), duration_s=round(duration_s, 3), error=error, **extra
        )
        atomic_write_json(self.file(layout.STATUS), self._status)
