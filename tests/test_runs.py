"""The run store: exclusive unique directories, atomic files, status lifecycle, listing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from expctl.runs import RunDir, atomic_save, atomic_write_json, find_runs, read_json, to_json


def test_run_ids_are_unique_and_directories_exclusive(tmp_path: Path) -> None:
    runs = [RunDir.create(tmp_path / "out", "same") for _ in range(50)]
    assert len({r.id for r in runs}) == 50
    for r in runs:
        assert r.path.parent == tmp_path / "out"
        assert r.id.split("-")[2] == "same"
        assert (r.path / "plots").is_dir()


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "b": [1.5, 2.5]})
    assert read_json(target) == {"a": 2, "b": [1.5, 2.5]}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "history.csv"
    target.write_text("old\n")

    def explode(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_save(target, explode)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_non_finite_numbers_become_null() -> None:
    text = to_json({"auc": math.nan, "x": [math.inf, 1.0], "n": {"k": -math.inf}})
    assert json.loads(text) == {"auc": None, "x": [None, 1.0], "n": {"k": None}}


def test_status_lifecycle(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "life")
    run.start("life", "0.0")
    status = read_json(run.file("status.json"))
    assert status["status"] == "running" and status["pid"] > 0 and status["ended_at"] is None
    run.finish("failed", 1.23456, error="ValueError: boom")
    status = read_json(run.file("status.json"))
    assert status["status"] == "failed" and status["error"] == "ValueError: boom"
    assert status["duration_s"] == 1.235 and status["started_at"] <= status["ended_at"]
    with pytest.raises(ValueError):
        run.finish("running", 0.0)


def test_listing_tolerates_corrupt_runs_and_ignores_symlinks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = RunDir.create(out, "good")
    good.start("good", "0")
    good.file("spec.yaml").write_text("name: good\n")
    atomic_write_json(good.file("metrics.json"), {"auc": 0.9})
    bad = RunDir.create(out, "bad")
    bad.file("status.json").write_text("{not json")
    bad.file("spec.yaml").write_text("name: bad\n")
    elsewhere = RunDir.create(tmp_path / "elsewhere", "outside")
    elsewhere.start("outside", "0")
    (out / "link").symlink_to(elsewhere.path)
    (out / "notes.txt").write_text("not a run")
    records = {r.id: r for r in find_runs(out)}
    assert set(records) == {good.id, bad.id}
    assert records[good.id].metrics == {"auc": 0.9} and records[good.id].state == "running"
    assert records[bad.id].state == "unknown" and "status.json" in records[bad.id].warnings[0]
    assert find_runs(tmp_path / "missing") == []


def test_filled_history_leaves_out_the_cells_an_epoch_did_not_log(tmp_path: Path) -> None:
    from expctl.runs import RunView, layout

    layout.write_history(
        tmp_path / layout.HISTORY,
        [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25, "sparsity": 0.1}],
    )
    view = RunView(tmp_path)
    assert view.filled_history == [
        {"epoch": 1.0, "loss": 0.5},
        {"epoch": 2.0, "loss": 0.25, "sparsity": 0.1},
    ]
    assert math.isnan(view.history[0]["sparsity"])
