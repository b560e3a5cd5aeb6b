"""Passwords in storage and MLflow URLs are never shown: expctl.masking and where it is applied."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from expctl.cli import cli
from expctl.masking import is_masked, mask, mask_all, mask_data, with_password

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://alice:s3cr%40t@db:5432/optuna", "postgresql://alice:***@db:5432/optuna"),
        ("--storage=mysql+pymysql://bob:p/w@h/d", "--storage=mysql+pymysql://bob:***@h/d"),
        ("a http://x:y@z and https://u:v@w", "a http://x:***@z and https://u:***@w"),
        ("postgresql://alice@h/db", "postgresql://alice@h/db"),  # no password: unchanged
        ("http://host:5000/path", "http://host:5000/path"),  # a port is not a password
        ("sqlite:///sweep.db", "sqlite:///sweep.db"),
        ("journal:///tmp/x.log", "journal:///tmp/x.log"),
    ],
)
def test_mask_replaces_only_the_password(text: str, shown: str) -> None:
    assert mask(text) == shown
    assert mask(mask(text)) == shown


def test_mask_data_masks_every_string_and_keeps_the_rest() -> None:
    data = {"tracking": {"mlflow": f"http://u:{SECRET}@h:5000"}, "n": [1, f"a://b:{SECRET}@c"]}
    assert mask_data(data) == {
        "tracking": {"mlflow": "http://u:***@h:5000"},
        "n": [1, "a://b:***@c"],
    }
    assert SECRET in data["tracking"]["mlflow"]  # a copy: the original is unchanged


@pytest.mark.parametrize(
    ("url", "password", "result"),
    [
        (
            "postgresql://alice:***@db:5432/o",
            "p@s:s/w",
            "postgresql://alice:p%40s%3As%2Fw@db:5432/o",
        ),
        ("postgresql://alice:***@db:5432/o", None, "postgresql://alice@db:5432/o"),
        ("http://h:5000/x", "pw", "http://h:5000/x"),  # no user information: unchanged
    ],
)
def test_with_password_puts_back_or_drops_the_password(
    url: str, password: str | None, result: str
) -> None:
    assert is_masked(url) == ("***" in url)
    assert with_password(url, password) == result
    assert not is_masked(result)


def test_environment_records_argv_without_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    from expctl.runs.environment import environment

    argv = ["expctl", "sweep", "s.yaml", "--storage", f"postgresql://alice:{SECRET}@db/optuna"]
    monkeypatch.setattr(sys, "argv", argv)
    recorded = environment(Path.cwd())["argv"]
    assert recorded == mask_all(argv)
    assert recorded[-1] == "postgresql://alice:***@db/optuna"
    assert SECRET not in json.dumps(recorded)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://alice:{SECRET}@127.0.0.1:9/optuna",  # nothing listens on port 9
        f"nosuchdb://alice:{SECRET}@127.0.0.1/optuna",  # unknown scheme
    ],
)
def test_a_sweep_storage_error_never_prints_the_password(
    write_spec, tmp_path: Path, url: str
) -> None:
    spec = write_spec(
        {
            "sweep": {
                "method": "grid",
                "space": {"model.hidden": {"type": "choice", "values": [[4], [8]]}},
            }
        }
    )
    result = CliRunner().invoke(
        cli,
        ["sweep", str(spec), "--storage", url, "--study", "s", "--output-dir", str(tmp_path / "o")],
    )
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output
    assert "alice:***@127.0.0.1" in result.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def test_a_missing_database_driver_names_the_extra_and_writes_nothing(
    write_spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    def no_driver(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'psycopg'")

    monkeypatch.setattr(optuna.storages, "RDBStorage", no_driver)
    spec = write_spec(
        {"sweep": {"method": "grid", "space": {"model.l2": {"type": "choice", "values": [0.0]}}}}
    )
    out = tmp_path / "o"
    url = f"postgresql://alice:{SECRET}@127.0.0.1/optuna"
    result = CliRunner().invoke(
        cli, ["sweep", str(spec), "--storage", url, "--study", "s", "--output-dir", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "expctl[postgres]" in result.output and "alice:***@" in result.output
    assert SECRET not in result.output
    assert not out.exists()


def test_connectable_never_sends_the_mask() -> None:
    from expctl.masking import connectable

    plain = "postgresql://u:pw@h/db"
    assert connectable(plain) == plain and connectable(plain, "other") == plain
    pg = "postgresql://u:***@h:5432/db"
    assert connectable(pg, "s3cr@t") == "postgresql://u:s3cr%40t@h:5432/db"
    assert connectable(pg) == "postgresql://u@h:5432/db"  # the driver reads PGPASSWORD
    assert connectable("mysql+pymysql://u:***@h/db") is None
    assert connectable("http://u:***@h:5000", "pw") == "http://u:pw@h:5000"
