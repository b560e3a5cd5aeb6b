"""Two hosts on one study, each in a network namespace of its own reaching the server over its own
address, as two machines on a network would.

Each host is a network namespace (`ip netns`) joined to the root namespace by a veth pair on a
private /30 (10.231.x.0/30: the root side .1, the host .2) and a UTS namespace with its own host
name. The server (tests/pgserver.py) listens on 127.0.0.1 and on the root side of each pair; a host
sees no other address of it (its loopback is its own). Skips, saying why, where namespaces cannot
be made (not root, no `ip`, a container without CAP_NET_ADMIN). Namespaces and veths are always
removed afterwards.
"""

from __future__ import annotations

import contextlib
import csv
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TINY
from pgserver import (
    GRID23_POINTS,
    PASSWORD,
    USER,
    PgServer,
    reason_unavailable,
    start_server,
    write_grid23,
)

ROOT = Path(__file__).resolve().parents[1]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _reason_no_namespaces() -> str | None:
    """Why network namespaces cannot be made here (None when they can), found by trying."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    for program in ("ip", "unshare", "hostname"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    probe = f"expctl-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    try:
        veth = _ip("link", "add", f"xp{os.getpid()}", "type", "veth", "peer", "name", "xq0",
                   "netns", probe, check=False)  # fmt: skip
        if veth.returncode != 0:
            return f"cannot make a veth pair: {veth.stderr.strip()}"
        renamed = subprocess.run(
            ["ip", "netns", "exec", probe, "unshare", "-u", "hostname", "expctl-probe"],
            capture_output=True,
            text=True,
            check=False,
        )
        if renamed.returncode != 0:
            return f"cannot give a namespace its own host name: {renamed.stderr.strip()}"
    finally:
        _ip("link", "del", f"xp{os.getpid()}", check=False)
        _ip("netns", "del", probe, check=False)
    return None


@dataclass(frozen=True)
class Host:
    """A network namespace `ns` whose address `address` reaches the root namespace at `server`."""

    name: str
    ns: str
    veth: str
    server: str
    address: str


def _free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """`count` /30 networks in 10.231.0.0/16 that no interface here uses yet."""
    used = _ip("-4", "-o", "addr", "show").stdout
    start = os.getpid() % 250  # another run of this test at the same time picks other ones
    found = []
    for k in range(256):
        net = ipaddress.IPv4Network(f"10.231.{(start + k) % 256}.0/30")
        if f" {net[1]}/" not in used and f" {net[2]}/" not in used:
            found.append(net)
            if len(found) == count:
                return found
    raise RuntimeError("no free 10.231.x.0/30 network")


@contextlib.contextmanager
def namespaces(names: list[str]) -> Iterator[list[Host]]:
    """One network namespace per name, each with a veth pair to the root namespace; removed on
    exit (deleting a namespace deletes its end of the pair, and with it the other end)."""
    tag = os.getpid() % 100_000
    hosts = []
    try:
        for index, (name, net) in enumerate(zip(names, _free_subnets(len(names)), strict=True)):
            host = Host(name, f"expctl-{name}-{tag}", f"xv{tag}-{index}", str(net[1]), str(net[2]))
            hosts.append(host)
            _ip("netns", "add", host.ns)
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
                "netns", host.ns)  # fmt: skip
            _ip("addr", "add", f"{host.server}/30", "dev", host.veth)
            _ip("link", "set", host.veth, "up")
            _ip("-n", host.ns, "addr", "add", f"{host.address}/30", "dev", "eth0")
            _ip("-n", host.ns, "link", "set", "eth0", "up")
            _ip("-n", host.ns, "link", "set", "lo", "up")
        yield hosts
    finally:
        for host in hosts:
            _ip("netns", "del", host.ns, check=False)
            _ip("link", "del", host.veth, check=False)


def _in_namespace(host: Host, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`argv` in `host`'s network namespace with its own host name, as on that machine."""
    rename = 'hostname "$0" && exec "$@"'
    return subprocess.Popen(
        ["ip", "netns", "exec", host.ns, "unshare", "-u", "sh", "-c", rename, host.name, *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


def _connects(host: Host, address: str, port: int) -> bool:
    """Whether a TCP connection from inside `host`'s namespace to address:port succeeds."""
    code = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=3).close()\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", host.ns, sys.executable, "-c", code], capture_output=True
    )
    return done.returncode == 0


@pytest.mark.slow  # two namespaced hosts train a 2x3 grid of small runs: about 60 s on 2 cores
def test_two_hosts_in_network_namespaces_share_a_grid(tmp_path: Path) -> None:
    reason = reason_unavailable() or _reason_no_namespaces()
    if reason:
        pytest.skip(reason)
    # a few seconds a trial: both hosts get work
    spec = write_grid23(
        tmp_path / "grid.yaml",
        "netns23",
        data={"source": "jets", "n_samples": 2000},
        train={**TINY["train"], "epochs": 6},
    )
    procs: list[subprocess.Popen[str]] = []
    with namespaces(["host-a", "host-b"]) as hosts:
        server = start_server(listen=",".join(["127.0.0.1", *(h.server for h in hosts)]))
        try:
            # every connection the server accepts is logged with its client's address
            _psql(server, "ALTER SYSTEM SET log_connections = on", "SELECT pg_reload_conf()")
            for host in hosts:  # each host reaches the server at its own address only
                assert _connects(host, host.server, server.port)
                assert not _connects(host, "127.0.0.1", server.port)
            assert not _connects(hosts[1], hosts[0].server, server.port)

            env = {**os.environ, "PGPASSWORD": PASSWORD}
            env.pop("EXPCTL_STORAGE", None)

            def sweep(host: Host) -> subprocess.Popen[str]:
                url = f"postgresql://{USER}@{host.server}:{server.port}/sweeps"
                argv = [sys.executable, "-m", "expctl", "sweep", str(spec), "--storage", url,
                        "--study", "netns23", "--output-dir", str(tmp_path / host.name), "-q"]  # fmt: skip
                return _in_namespace(host, argv, env)

            # both hosts start at the same instant: the grid is enqueued once (the study lock)
            procs.extend(sweep(host) for host in hosts)
            outputs = [proc.communicate(timeout=600)[0] for proc in procs]
            for proc, output in zip(procs, outputs, strict=True):
                assert proc.returncode == 0, output
                assert PASSWORD not in output
            log = (server.base / "log").read_text()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            server.stop()

    # both hosts talked to the server, each from its own address
    for host in hosts:
        assert f"connection received: host={host.address} " in log, host
    trained = {h.name: sorted(p.name for p in (tmp_path / h.name / "netns23" / "trials").iterdir())
               for h in hosts}  # fmt: skip
    assert all(trained.values()), trained  # host b joined while host a was still training
    # the host that finished last wrote the whole study's table (nothing was running then)
    last = max(hosts, key=lambda h: (tmp_path / h.name / "netns23" / "sweep.csv").stat().st_mtime)
    with open(tmp_path / last.name / "netns23" / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    points = sorted((r["model.hidden"], r["model.l2"]) for r in rows if r["state"] == "COMPLETE")
    expected = sorted(GRID23_POINTS)
    # each point of the grid ran exactly once, by one host or the other
    assert len(rows) == 6 and points == expected, rows
    # sweep.csv's host column names the host whose folder holds the run directory
    for row in rows:
        assert row["run"] in trained[row["host"]], (row, trained)
    assert sorted(r["run"] for r in rows) == sorted(trained["host-a"] + trained["host-b"])
    # nothing of the namespaces is left
    assert not [h for h in hosts if h.ns in _ip("netns", "list").stdout]
    assert not [h for h in hosts if _ip("link", "show", h.veth, check=False).returncode == 0]


def _psql(server: PgServer, *statements: str) -> None:
    """Run SQL statements on the server as its superuser (psycopg, autocommit)."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
