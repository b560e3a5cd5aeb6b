"""Shared fixtures: tiny specs that train in a second or two."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

# pytest-xdist: the workers share the machine's cores, so each TensorFlow (in a worker or a
# subprocess it starts, which inherits this) takes its share of threads instead of all of them.
# Set before TensorFlow is imported.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _SHARE = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, _SHARE)

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "data": {"source": "jets", "n_samples": 800},
    "model": {"type": "mlp", "hidden": [8], "dropout": 0.1, "l2": 1.0e-4},
    "train": {"optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 64, "epochs": 2},
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write TINY (deep-merged with the given overrides) to a YAML file and return its path."""

    def write(
        extra: dict[str, Any] | None = None,
        name: str = "spec.yaml",
        base: dict[str, Any] | None = None,
    ) -> Path:
        data = deep_merge(TINY if base is None else base, extra or {})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny binary (jets) run and one tiny multiclass (digits) run, trained once per session."""
    from click.testing import CliRunner

    from expctl.cli import cli

    base = tmp_path_factory.mktemp("trained")
    out = base / "outputs"
    runs: dict[str, Path] = {}
    specs = {
        "binary": TINY,
        "multiclass": deep_merge(
            TINY, {"name": "digits", "data": {"source": "digits", "n_samples": None}}
        ),
    }
    for kind, data in specs.items():
        path = base / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        before = set(out.iterdir()) if out.exists() else set()
        result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
        assert result.exit_code == 0, result.output
        (runs[kind],) = set(out.iterdir()) - before
    return runs


#: Modules that must never be imported by start-up and the views.
HEAVY = ("tensorflow", "keras", "matplotlib")


def heavy_imports(argv: list[str]) -> str:
    """Run `expctl ARGV` in a fresh interpreter (exit code must be 0); the heavy modules it loaded."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from expctl.cli import cli\n"
        f"result = CliRunner().invoke(cli, {argv!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL server (tests/pgserver.py) on 127.0.0.1; skips where there is none."""
    import pgserver

    reason = pgserver.reason_unavailable()
    if reason:
        pytest.skip(reason)
    server = pgserver.start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres(pg_server) -> str:
    """The URL (with its password) of the database `sweeps` on the throw-away server."""
    return pg_server.url()
