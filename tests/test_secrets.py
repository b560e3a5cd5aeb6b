"""Passwords in a storage URL or an MLflow URI are never printed or written (issue 16, point 4).

On the throw-away PostgreSQL server of conftest (tests/pgserver.py; skipped where there is none):
every byte `expctl run`, `sweep` and `export` print and every file they write (run directories,
sweep folder, MLflow's artifacts, and the MLflow and Optuna databases themselves, dumped) is
searched for the password; bad storage URLs exit 2 saying what to fix, with the password masked.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY
from pgserver import PASSWORD, PgServer, free_port

from expctl.cli import cli
from expctl.errors import BadInputError
from expctl.masking import mask

SECRET = "t0p-Secr3t-77"


def _createdb(server: PgServer, name: str) -> str:
    """A new, empty database `name` on the server; its URL (with the password)."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


def _sweep_spec(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "sweep.yaml"
    data = {
        **TINY,
        "name": "secrets",
        "sweep": {"method": "grid", "space": {"model.l2": {"type": "choice", "values": [0.0]}}},
        **extra,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def no_password_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No password anywhere but in the URL: PGPASSWORD, ~/.pgpass, MLflow's and expctl's variables."""
    for name in ("PGPASSWORD", "EXPCTL_STORAGE", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))


# ------------------------------------------------------------------------------ EXPCTL_STORAGE


def test_the_storage_url_comes_from_expctl_storage(tmp_path: Path, no_password_env: None) -> None:
    spec = _sweep_spec(tmp_path)
    out = tmp_path / "o"
    args = ["sweep", str(spec), "--study", "s", "--output-dir", str(out)]
    env = {"EXPCTL_STORAGE": f"nosuchdb://alice:{SECRET}@127.0.0.1/optuna"}
    # the variable is read when --storage is not given (without it: a journal file, exit 0)
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    assert "storage URL 'nosuchdb://alice:***@127.0.0.1/optuna'" in result.output
    assert SECRET not in result.output and "Traceback" not in result.output
    assert not out.exists()
    # --storage wins over the variable
    flag = f"nosuchdb2://bob:{SECRET}@127.0.0.1/optuna"
    result = CliRunner().invoke(cli, [*args, "--storage", flag], env=env)
    assert result.exit_code == 2, result.output
    assert "nosuchdb2://bob:***@" in result.output and "alice" not in result.output
    assert SECRET not in result.output
    help_text = CliRunner().invoke(cli, ["sweep", "--help"]).output
    assert "EXPCTL_STORAGE" in help_text and "PGPASSWORD" in help_text


# ------------------------------------------------------------------------ bad storage URLs


def _bad_urls(server: PgServer) -> list[tuple[str, str, list[str]]]:
    """(name, URL, what the message must say) for each kind of bad URL on the real server."""
    closed = free_port()  # nothing listens there
    wrong = server.url().replace(PASSWORD, SECRET)
    return [
        (
            "unknown scheme",
            server.url().replace("postgresql://", "postgres://"),
            ["expected a URL starting with", "postgresql://", "did you mean 'postgresql://'?"],
        ),
        (
            "unreachable host",
            server.url().replace(f":{server.port}/", f":{closed}/"),
            [
                "Connection refused",
                f"is a database server running at 127.0.0.1:{closed} and reachable from here?",
            ],
        ),
        (
            "wrong password",
            wrong,
            [
                'password authentication failed for user "expctl"',
                "check the user name and password (in the URL, or PGPASSWORD / ~/.pgpass",
            ],
        ),
        (
            "missing database",
            server.url("no_such_db"),
            [
                'database "no_such_db" does not exist',
                f"createdb -h 127.0.0.1 -p {server.port} -U expctl no_such_db",
            ],
        ),
        (
            "masked password, none in the environment",
            server.url().replace(PASSWORD, "***"),
            [
                "no password supplied",
                "its password was *** (the mask expctl prints), so it was left out",
                "PGPASSWORD or ~/.pgpass",
            ],
        ),
    ]


def test_bad_storage_urls_exit_2_saying_what_to_fix(
    pg_server: PgServer, tmp_path: Path, no_password_env: None
) -> None:
    spec = _sweep_spec(tmp_path)
    for name, url, expected in _bad_urls(pg_server):
        out = tmp_path / name.replace(" ", "-")
        result = CliRunner().invoke(
            cli, ["sweep", str(spec), "--storage", url, "--study", "s", "--output-dir", str(out)]
        )
        assert result.exit_code == 2, (name, result.output)
        assert isinstance(result.exception, SystemExit), (name, result.exception)
        assert "Traceback" not in result.output, name
        assert PASSWORD not in result.output and SECRET not in result.output, name
        assert mask(url) in result.output, (name, result.output)
        assert "***@" in result.output, name
        for words in expected:
            assert words in result.output, (name, words, result.output)
        assert not out.exists(), name  # nothing written


def test_a_masked_storage_password_is_taken_from_pgpassword(
    pg_server: PgServer, tmp_path: Path, no_password_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL copied from expctl's output (`***`) opens with PGPASSWORD; `***` is never sent."""
    from expctl.sweep.storage import open_storage

    url = pg_server.url().replace(PASSWORD, "***")
    with pytest.raises(BadInputError, match="no password supplied"):
        open_storage(url, tmp_path / "a")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    info = open_storage(url, tmp_path / "b")
    assert info.url == pg_server.url().replace(f":{PASSWORD}", "")  # the password left out
    assert isinstance(info.storage.get_all_studies(), list)  # connected
    # other databases do not read PGPASSWORD: refused before connecting
    with pytest.raises(BadInputError, match=r"mask \*\*\* that expctl prints, not a password"):
        open_storage("mysql+pymysql://alice:***@127.0.0.1:9/optuna", tmp_path / "c")


# ------------------------------------------------------------- MLflow URIs read back masked


def test_a_masked_mlflow_password_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_password_env: None
) -> None:
    from expctl.export.to_mlflow import tracking_uri

    plain = f"http://alice:{SECRET}@127.0.0.1:5000"
    assert tracking_uri(plain) == plain
    masked = mask(plain)
    with pytest.raises(BadInputError, match="MLFLOW_TRACKING_PASSWORD") as refused:
        tracking_uri(masked)
    assert "http://alice:***@127.0.0.1:5000" in refused.value.message
    # PostgreSQL: the password is left out for the driver (PGPASSWORD, ~/.pgpass)
    assert tracking_uri("postgresql://bob:***@h:5432/ml") == "postgresql://bob@h:5432/ml"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "p@ss/w:rd")
    assert tracking_uri(masked) == "http://alice:p%40ss%2Fw%3Ard@127.0.0.1:5000"
    assert tracking_uri("postgresql://bob:***@h/ml") == "postgresql://bob:p%40ss%2Fw%3Ard@h/ml"


def test_mlflow_log_lines_are_masked_while_exporting(capsys: pytest.CaptureFixture[str]) -> None:
    from expctl.export.to_mlflow import masked_logs

    logger = logging.getLogger("expctl.test_secrets")
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        with masked_logs():
            logger.warning("cannot reach %s", f"postgresql://u:{SECRET}@db/ml")
        logger.warning("after: %s", f"http://u:{SECRET}@h")  # the filter is gone again
    finally:
        logging.getLogger().removeHandler(handler)
    err = capsys.readouterr().err
    assert "cannot reach postgresql://u:***@db/ml" in err
    assert f"after: http://u:{SECRET}@h" in err


def test_the_resolved_spec_masks_the_mlflow_password_where_it_is_written() -> None:
    from expctl.spec import resolved_dict, resolved_yaml, spec_from_dict

    uri = f"postgresql://alice:{SECRET}@db:5432/mlflow"
    spec = spec_from_dict({**TINY, "tracking": {"mlflow": uri}})
    assert resolved_dict(spec)["tracking"]["mlflow"] == uri  # in memory: what the run uses
    assert resolved_dict(spec, masked=True)["tracking"]["mlflow"] == mask(uri)
    text = resolved_yaml(spec)  # spec.yaml
    assert SECRET not in text
    assert yaml.safe_load(text)["tracking"]["mlflow"] == "postgresql://alice:***@db:5432/mlflow"


def test_sweep_yaml_masks_the_mlflow_password(tmp_path: Path) -> None:
    from expctl.spec.sweep import load_sweep_spec
    from expctl.sweep.outputs import sweep_yaml

    uri = f"http://alice:{SECRET}@127.0.0.1:5000"
    lsweep = load_sweep_spec(_sweep_spec(tmp_path, tracking={"mlflow": uri}))
    text = sweep_yaml(lsweep)
    assert SECRET not in text
    assert yaml.safe_load(text)["tracking"]["mlflow"] == "http://alice:***@127.0.0.1:5000"


# --------------------------------------------------------------------------- end to end


def _dump(server: PgServer, database: str) -> bytes:
    """Everything in a database, as pg_dump's SQL."""
    where = ["-h", server.host, "-p", str(server.port), "-U", "expctl"]
    done = subprocess.run(
        [str(server.bin / "pg_dump"), *where, database],
        capture_output=True,
        env={**os.environ, "PGPASSWORD": PASSWORD},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow  # a run, a one-trial sweep (read again) and two MLflow exports: about 60 s
def test_passwords_are_never_printed_or_written(pg_server: PgServer, tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="mlflow is not installed (uv sync --extra mlflow)")
    import psycopg

    mlflow_uri = _createdb(pg_server, "secrets_mlflow")
    storage = _createdb(pg_server, "secrets_optuna")
    assert PASSWORD in mlflow_uri and PASSWORD in storage
    shown_mlflow, shown_storage = mask(mlflow_uri), mask(storage)
    # the spec files are the user's input (they hold the password); everything under work/ is
    # written by expctl or MLflow (its artifacts go to ./mlruns)
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    run_spec = inputs / "run.yaml"
    run_spec.write_text(yaml.safe_dump({**TINY, "name": "secret-run"}, sort_keys=False))
    sweep_spec = _sweep_spec(inputs, tracking={"mlflow": mlflow_uri})
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PGPASSWORD", "EXPCTL_STORAGE", "MLFLOW_TRACKING_PASSWORD")
    }
    env["PGPASSFILE"] = str(tmp_path / "no-such-pgpass")
    printed: list[bytes] = []

    def expctl(*args: str, code: int = 0, **extra_env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "expctl", *args],
            cwd=work,
            env={**env, **extra_env},
            capture_output=True,
            timeout=600,
        )
        printed.extend([done.stdout, done.stderr])
        text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        assert done.returncode == code, text
        assert "Traceback" not in text, text
        return text

    # a run logged to MLflow, the URI with its password on the command line
    out = expctl("run", str(run_spec), "--mlflow", mlflow_uri, "--output-dir", "runs")
    assert f"logged to MLflow {shown_mlflow}: experiment expctl" in out
    (run_dir,) = (work / "runs").iterdir()
    recorded = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert recorded["tracking"]["mlflow"] == shown_mlflow

    # a sweep on the server (password in --storage), its trial logged to MLflow (the URI with
    # its password in the spec file)
    args = ["sweep", str(sweep_spec), "--study", "secrets", "--output-dir", "sweeps", "--smoke"]
    out = expctl(*args, "--storage", storage)
    assert f"storage {shown_storage}" in out and "1 trials: 1 COMPLETE" in out
    sweep_dir = work / "sweeps" / "secrets"
    for name in ("sweep.yaml", "best.yaml"):
        assert yaml.safe_load((sweep_dir / name).read_text())["tracking"]["mlflow"] == shown_mlflow
    # the same study from EXPCTL_STORAGE: nothing secret on the command line, the study found
    out = expctl(*args, EXPCTL_STORAGE=storage)
    assert f"storage {shown_storage}; resuming (1 trials recorded)" in out
    assert "1 trials: 1 COMPLETE" in out

    # the run's recorded URI has *** for its password: never sent as one
    again = ["export", str(run_dir), "--mlflow", shown_mlflow, "--experiment", "again"]
    out = expctl(*again, code=2)
    assert "no password supplied" in out and "MLFLOW_TRACKING_PASSWORD" in out
    wrong = mlflow_uri.replace(PASSWORD, SECRET)
    out = expctl("export", str(run_dir), "--mlflow", wrong, code=2)
    assert 'password authentication failed for user "expctl"' in out and mask(wrong) in out
    # ... it comes from MLflow's own variable
    out = expctl(*again, MLFLOW_TRACKING_PASSWORD=PASSWORD)
    assert f"{run_dir.name}: MLflow run" in out and "(experiment again," in out

    # MLflow recorded the run, the trial and the second export; its param is the masked URI
    with psycopg.connect(mlflow_uri) as conn:
        logged = conn.execute("SELECT value FROM params WHERE key = 'tracking.mlflow'").fetchall()
    assert sorted(v for (v,) in logged) == [shown_mlflow] * 3

    # not one byte printed holds the password, nor any file written, nor either database
    everything = b"".join(printed)
    assert PASSWORD.encode() not in everything and SECRET.encode() not in everything
    files = [p for p in work.rglob("*") if p.is_file()]
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path
    names = {p.name for p in files}
    # what was searched: run directories, the sweep folder, MLflow's artifacts
    assert {"spec.yaml", "status.json", "environment.json", "sweep.yaml", "best.yaml"} <= names
    assert any(p.name == "spec.yaml" for p in (work / "mlruns").rglob("*"))
    for database in ("secrets_mlflow", "secrets_optuna"):
        dump = _dump(pg_server, database)
        assert b"COPY public." in dump and PASSWORD.encode() not in dump, database
    assert b"tracking.mlflow" in _dump(pg_server, "secrets_mlflow")
