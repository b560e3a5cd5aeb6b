"""A throw-away PostgreSQL server for the tests that share sweeps through a real database.

`start_server()` runs initdb in a temporary folder (password authentication, scram-sha-256), starts
the server on a free port at the given addresses and creates the database `sweeps`; the caller
stops it. `reason_unavailable()` says why a server cannot be started here (None when it can); the
fixtures in conftest.py skip with that reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from conftest import TINY

PASSWORD = "pg-S3cret-9x"
USER = "expctl"


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run the command as the `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def reason_unavailable() -> str | None:
    if bin_dir() is None:
        return "PostgreSQL's server is not installed (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as another user"
    return None


@dataclass
class PgServer:
    """A running server: `url(database, host)` with the password, `restart()`, `stop()`."""

    bin: Path
    base: Path
    port: int
    host: str

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, database: str = "sweeps", host: str | None = None, password: bool = True) -> str:
        auth = f"{USER}:{PASSWORD}" if password else USER
        return f"postgresql://{auth}@{host or self.host}:{self.port}/{database}"

    def ctl(self, *args: str) -> None:
        # with its log file: a server writing to pg_ctl's output would hold our pipe open
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"), *args]
        done = subprocess.run(as_server_user(cmd), capture_output=True, text=True)
        assert done.returncode == 0, f"pg_ctl {args} failed: {done.stdout}{done.stderr}"

    def restart(self) -> None:
        self.ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self.ctl("-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def start_server(listen: str = "127.0.0.1") -> PgServer:
    """Start a server listening on `listen` (comma-separated addresses) with a `sweeps` database."""
    binaries = bin_dir()
    assert binaries is not None, reason_unavailable()
    # not under pytest's temporary folder: that one is private to this user (mode 700)
    base = Path(tempfile.mkdtemp(prefix="expctl-pg-"))
    data, sockets, pwfile = base / "data", base / "sockets", base / "pw"
    sockets.mkdir()
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        for path in (base, sockets, pwfile):
            shutil.chown(path, "postgres")
        os.chmod(base, 0o755)
    port = free_port()

    def run(*cmd: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            as_server_user([str(binaries / cmd[0]), *cmd[1:]]),
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, f"{cmd[0]} failed: {done.stdout}{done.stderr}"

    run("initdb", "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={pwfile}")
    if "," in listen or listen not in ("127.0.0.1", "localhost"):
        # addresses other than loopback: let clients there authenticate with the password too
        with open(data / "pg_hba.conf", "a") as fh:
            fh.write("host all all 0.0.0.0/0 scram-sha-256\n")
    options = f"-c listen_addresses={listen} -c port={port} -c unix_socket_directories={sockets}"
    host = listen.split(",")[0]
    server = PgServer(binaries, base, port, host)
    server.ctl("-o", options, "-w", "start")
    try:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        run("createdb", "-h", host, "-p", str(port), "-U", USER, "sweeps", env=env)
    except BaseException:
        server.stop()
        raise
    return server


def can_rename_host() -> bool:
    """Whether this process may start commands in a UTS namespace of their own (root, unshare -u):
    the tests' stand-in for separate machines with their own host names."""
    if shutil.which("unshare") is None or shutil.which("hostname") is None:
        return False
    done = subprocess.run(
        ["unshare", "-u", "sh", "-c", "hostname expctl-probe"], capture_output=True, check=False
    )
    return done.returncode == 0


#: The 2x3 grid the multi-host tests share (6 points) and its points as sweep.csv writes them.
GRID23 = {
    "model.hidden": {"type": "choice", "values": [[4], [8]]},
    "model.l2": {"type": "choice", "values": [0.0, 1.0e-4, 1.0e-3]},
}
GRID23_POINTS = {(h, l2) for h in ("[4]", "[8]") for l2 in ("0.0", "0.0001", "0.001")}


def write_grid23(path: Path, name: str, **sections: Any) -> Path:
    """A tiny spec named `name` sweeping GRID23 (val_loss), `sections` replacing TINY's."""
    data = {
        **TINY,
        "name": name,
        **sections,
        "sweep": {"method": "grid", "metric": "val_loss", "space": GRID23},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
