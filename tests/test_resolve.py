"""Naming runs: ids, unique prefixes, paths anywhere, and what is refused (exit code 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from expctl.cli import COMMANDS, cli
from expctl.errors import RunNotFoundError
from expctl.runs.resolve import resolve_run, resolve_runs

A = "20260101-120000-alpha-aaaaaa"
B = "20260101-130000-alpha-bbbbbb"
C = "20260102-090000-beta-cccccc"


def make_run(folder: Path, run_id: str) -> Path:
    """A minimal run directory: status.json and spec.yaml."""
    path = folder / run_id
    path.mkdir(parents=True)
    (path / "status.json").write_text(json.dumps({"status": "completed", "name": "alpha"}))
    (path / "spec.yaml").write_text("name: alpha\nseed: 1\n")
    return path


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    out = tmp_path / "outputs"
    for run_id in (A, B, C):
        make_run(out, run_id)
    return out


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    """Run `expctl ...` through the root group, with `compare` registered as it will be."""
    monkeypatch.setitem(COMMANDS, "compare", ("expctl.cli.compare", "compare"))

    def run(*args: str):
        return CliRunner().invoke(cli, list(args))

    return run


def test_exact_id(outputs: Path) -> None:
    assert resolve_run(A, outputs) == (outputs / A).absolute()


def test_unique_prefix(outputs: Path) -> None:
    assert resolve_run("20260102", outputs).name == C
    assert resolve_run(A[:-2], outputs).name == A


def test_ambiguous_prefix_lists_the_candidates(outputs: Path) -> None:
    with pytest.raises(RunNotFoundError, match="ambiguous") as info:
        resolve_run("20260101", outputs)
    assert A in info.value.message and B in info.value.message and C not in info.value.message
    assert info.value.exit_code == 2


def test_unknown_id(outputs: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        resolve_run("nope", outputs)
    with pytest.raises(RunNotFoundError, match="does not exist"):
        resolve_run(A, outputs.parent / "missing")


def test_path_anywhere(outputs: Path, tmp_path: Path) -> None:
    elsewhere = make_run(tmp_path / "elsewhere", "my-run")
    assert resolve_run(str(elsewhere), outputs) == elsewhere
    assert resolve_run(str(outputs / B), tmp_path / "unrelated") == outputs / B


def test_relative_path_and_dot(outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(outputs)
    assert resolve_run(f"./{A}", Path("nowhere")) == outputs / A
    monkeypatch.chdir(outputs / A)
    assert resolve_run(".", outputs) == outputs / A


@pytest.mark.parametrize("ref", ["../../etc", "/etc", "..", "a..b", f"{A}\0", "\0", ""])
def test_refused(outputs: Path, ref: str) -> None:
    with pytest.raises(RunNotFoundError) as info:
        resolve_run(ref, outputs)
    assert info.value.exit_code == 2


def test_path_that_is_not_a_run_directory_says_what_one_is(outputs: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    with pytest.raises(RunNotFoundError) as info:
        resolve_run(str(plain), outputs)
    assert str(plain) in info.value.message
    assert "not a run directory" in info.value.message
    assert "status.json and spec.yaml" in info.value.message


def test_id_naming_a_non_run_directory(outputs: Path) -> None:
    (outputs / "scratch").mkdir()
    with pytest.raises(RunNotFoundError, match="not a run directory"):
        resolve_run("scratch", outputs)


def test_symlink_leading_outside_is_refused_by_id(outputs: Path, tmp_path: Path, invoke) -> None:
    outside = make_run(tmp_path / "elsewhere", "20260105-000000-evil-eeeeee")
    (outputs / "20260105-000000-evil-eeeeee").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RunNotFoundError, match="symbolic link leading outside"):
        resolve_run("20260105-000000-evil-eeeeee", outputs)
    with pytest.raises(RunNotFoundError, match="symbolic link leading outside"):
        resolve_run("20260105", outputs)  # a unique prefix too
    result = invoke("compare", "20260105", "--output-dir", str(outputs))
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.output
    # Its path, given explicitly, is the user's choice.
    assert resolve_run(str(outside), outputs) == outside


def test_symlink_inside_the_output_dir_is_followed(outputs: Path) -> None:
    (outputs / "latest").symlink_to(outputs / C, target_is_directory=True)
    assert resolve_run("latest", outputs) == outputs / "latest"


def test_resolve_runs_expands_a_folder_of_runs(outputs: Path, tmp_path: Path) -> None:
    outside = make_run(tmp_path / "elsewhere", "linked")
    (outputs / "zz-link").symlink_to(outside, target_is_directory=True)
    (outputs / "empty").mkdir()
    (outputs / ".hidden").mkdir()
    (outputs / "notes.txt").write_text("not a run")
    warnings: list[str] = []
    found = resolve_runs([str(outputs), B[:-3], str(outside)], outputs, warnings.append)
    assert [p.name for p in found] == [A, B, C, "linked"]
    assert len(warnings) == 2
    assert any(str(outputs / "zz-link") in w and "symbolic link" in w for w in warnings)
    assert any(str(outputs / "empty") in w for w in warnings)


def test_resolve_runs_folder_name_ids_and_duplicates(
    outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outputs.parent)
    found = resolve_runs(["outputs", C, "20260102"], Path("outputs"), print)
    assert [p.name for p in found] == [A, B, C]
    assert all(p.is_absolute() for p in found)
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        resolve_runs(["20260101"], outputs)
    # A folder of runs named relative to the output directory.
    assert [p.name for p in resolve_runs(["outputs"], Path("."), print)] == [A, B, C]


def test_resolve_runs_refusals(outputs: Path, tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no such directory"):
        resolve_runs([str(tmp_path / "missing") + os.sep], outputs)
    with pytest.raises(RunNotFoundError, match="no directory 'missing'"):
        resolve_runs(["missing"], outputs)
    plain = tmp_path / "plain"
    (plain / "a").mkdir(parents=True)
    with pytest.raises(RunNotFoundError, match="holds no run directories"):
        resolve_runs([str(plain)], outputs)
    with pytest.raises(RunNotFoundError):
        resolve_runs(["../../etc"], outputs)
