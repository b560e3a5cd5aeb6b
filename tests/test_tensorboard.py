"""TensorBoard event files of a run, read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from expctl.cli import cli
from expctl.training.tensorboard import scalar_tags


def _run(write_spec, tmp_path: Path, extra: dict | None = None) -> Path:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(write_spec(extra)), "--output-dir", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    return run


def _read(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def _values(acc: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def test_scalar_tags_split_training_and_validation() -> None:
    row = {"epoch": 1, "loss": 0.5, "val_loss": 0.6, "val_auc": 0.9, "learning_rate": 0.01}
    assert scalar_tags(row) == [
        ("train", "epoch_loss", 0.5),
        ("validation", "epoch_loss", 0.6),
        ("validation", "epoch_auc", 0.9),
        ("train", "epoch_learning_rate", 0.01),
    ]
    assert scalar_tags({"epoch": 2, "loss": float("nan")}) == []


def test_a_run_writes_the_history_as_tensorboard_scalars(write_spec, tmp_path: Path) -> None:
    run = _run(write_spec, tmp_path, {"tracking": {"histograms": True}})
    history = pd.read_csv(run / "history.csv")
    train = _read(run / "tensorboard" / "train")
    val = _read(run / "tensorboard" / "validation")
    assert {"epoch_loss", "epoch_learning_rate", "epoch_auc"} <= set(train.Tags()["tensors"])
    for acc, tag, column in (
        (train, "epoch_loss", "loss"),
        (train, "epoch_learning_rate", "learning_rate"),
        (val, "epoch_loss", "val_loss"),
        (val, "epoch_auc", "val_auc"),
    ):
        values = _values(acc, tag)
        assert [s for s, _ in values] == history["epoch"].tolist()
        assert [v for _, v in values] == pytest.approx(history[column].tolist(), rel=1e-6)
    # histograms on: one per weight variable, each epoch, tagged by TensorBoard's histogram plugin
    hist_tags = [
        t
        for t in train.Tags()["tensors"]
        if train.SummaryMetadata(t).plugin_data.plugin_name == "histograms"
    ]
    assert any("kernel" in t for t in hist_tags), hist_tags
    assert len(train.Tensors(hist_tags[0])) == len(history)


def test_tensorboard_off_and_histograms_off_by_default(write_spec, tmp_path: Path) -> None:
    run = _run(write_spec, tmp_path)
    train = _read(run / "tensorboard" / "train")
    plugins = {train.SummaryMetadata(t).plugin_data.plugin_name for t in train.Tags()["tensors"]}
    assert plugins == {"scalars"}
    off = _run(write_spec, tmp_path / "off", {"tracking": {"tensorboard": False}})
    assert not (off / "tensorboard").exists()
