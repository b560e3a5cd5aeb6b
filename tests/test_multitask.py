"""Multitask heads: one trunk, several outputs, each with its own target, loss, and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import mean_absolute_error, roc_auc_score

from expctl.cli import cli

JET_HEADS = [
    {"name": "signal", "task": "binary", "target": "label"},
    {"name": "energy", "task": "regression", "target": "energy", "loss_weight": 0.5},
]


def _run(write_spec, tmp_path: Path, extra: dict, code: int = 0) -> tuple[Path | None, str]:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(write_spec(extra)), "--output-dir", str(out)])
    assert result.exit_code == code, result.output
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    return (runs[0] if runs else None), result.output


def test_multitask_run_writes_per_head_metrics(write_spec, tmp_path: Path) -> None:
    extra = {
        "model": {"hidden": [16], "heads": JET_HEADS},
        "train": {"early_stopping": {"monitor": "val_signal_auc", "patience": 3}},
    }
    run, output = _run(write_spec, tmp_path, extra)
    assert "head signal: " in output and "head energy: " in output
    metrics = json.loads((run / "metrics.json").read_text())
    heads = metrics["heads"]
    assert set(heads) == {"signal", "energy"}
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y_sig, s_sig = npz["y_true_signal"], npz["y_score_signal"]
        y_e, s_e = npz["y_true_energy"], npz["y_score_energy"]
        np.testing.assert_array_equal(npz["y_true"], y_sig)  # the main head stays y_true
    # each head's metrics are those of its own predictions (known answers from sklearn)
    assert heads["signal"]["auc"] == pytest.approx(roc_auc_score(y_sig, s_sig), abs=1e-9)
    assert heads["energy"]["mae"] == pytest.approx(mean_absolute_error(y_e, s_e), rel=1e-9)
    assert heads["energy"]["task"] == "regression" and heads["signal"]["task"] == "binary"
    # the main head's metrics are also the top-level ones (list, compare, roc use them)
    assert metrics["auc"] == heads["signal"]["auc"]
    # the regression output is in the target's units (GeV), not standardised
    assert abs(np.mean(s_e) - np.mean(y_e)) < 0.5 * np.std(y_e)
    history = pd.read_csv(run / "history.csv")
    assert {"val_signal_auc", "val_energy_mae", "signal_loss", "energy_loss"} <= set(history)
    data = json.loads((run / "data.json").read_text())
    assert [h["name"] for h in data["heads"]] == ["signal", "energy"]
    assert "energy" not in data["features"]
    summary = (run / "model_summary.txt").read_text()
    assert "signal (Dense)" in summary and "energy (Rescaling)" in summary


def test_regression_loss_weight_is_divided_by_the_target_variance(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    from expctl.data import prepare
    from expctl.models import build_model
    from expctl.spec import spec_from_dict
    from expctl.training.fit import _losses

    spec = spec_from_dict(
        {"data": {"source": "jets", "n_samples": 400}, "model": {"hidden": [4], "heads": JET_HEADS}}
    )
    dataset = prepare(spec.data, tmp_path, 0, spec.model.heads)
    energy = dataset.heads[1]
    assert energy.std == pytest.approx(float(np.std(dataset.train.targets["energy"])), rel=1e-9)
    _, weights, _ = _losses(dataset, 0.0)
    assert weights == {"signal": 1.0, "energy": pytest.approx(0.5 / energy.std**2)}
    model = build_model(spec.model, dataset)
    assert set(model.output_names) == {"signal", "energy"}
    rescale = model.get_layer("energy")
    assert (rescale.scale, rescale.offset) == (energy.std, energy.mean)


def test_a_head_target_is_taken_out_of_the_features(tmp_path: Path, write_spec) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "pt", "c"])
    frame["label"] = (frame["a"] + frame["pt"] > 0).astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    heads = [
        {"name": "cls", "task": "binary", "target": "label"},
        {"name": "pt", "task": "regression", "target": "pt"},
    ]
    data = {"source": "csv", "path": str(tmp_path / "t.csv"), "target": "label"}
    run, _ = _run(write_spec, tmp_path, {"data": data, "model": {"heads": heads}})
    assert json.loads((run / "data.json").read_text())["features"] == ["a", "b", "c"]
    # listed explicitly as a feature, it is refused: a target cannot be an input
    data["features"] = ["a", "pt"]
    _, output = _run(write_spec, tmp_path, {"data": data, "model": {"heads": heads}}, code=2)
    assert "'pt' predicts 'pt', which data.features also lists" in output


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (
            {"model": {"heads": [{"name": "s", "task": "binary", "target": "lable"}]}},
            "no column 'lable' (did you mean 'label'?)",
        ),
        (
            {"data": {"source": "digits"}, "model": {"heads": JET_HEADS}},
            "data.source digits has no named columns to predict",
        ),
        (
            {"model": {"heads": [JET_HEADS[0], {**JET_HEADS[1], "name": "signal"}]}},
            "two heads have the name 'signal'",
        ),
        (
            {"model": {"heads": JET_HEADS}, "train": {"class_weight": "balanced"}},
            "train.class_weight is not supported with model.heads",
        ),
        (
            {
                "model": {"heads": JET_HEADS},
                "train": {"early_stopping": {"monitor": "val_auc"}},
            },
            "'val_auc' is not logged by this multitask model; one of loss, signal_loss",
        ),
        (
            {"model": {"heads": [{"name": "1st", "task": "binary", "target": "label"}]}},
            "model.heads[0].name",
        ),
        (
            {"model": {"heads": [{"name": "s", "task": "ranking", "target": "label"}]}},
            "model.heads[0].task",
        ),
    ],
)
def test_bad_heads_are_refused_before_anything_is_written(
    write_spec, tmp_path: Path, extra: dict, expect: str
) -> None:
    run, output = _run(write_spec, tmp_path, extra, code=2)
    assert run is None
    assert expect in output


def test_multitask_model_loads_in_safe_mode(write_spec, tmp_path: Path) -> None:
    from expctl.models.io import load_model

    run, _ = _run(write_spec, tmp_path, {"model": {"hidden": [8], "heads": JET_HEADS}})
    model = load_model(run / "model.keras")
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        stored = npz["y_score_energy"]
    from expctl.data import prepare
    from expctl.spec import load_spec

    loaded = load_spec(run / "spec.yaml")
    dataset = prepare(loaded.spec.data, run, loaded.spec.seed, loaded.spec.model.heads)
    again = model.predict(dataset.test.x, verbose=0)["energy"][:, 0]
    np.testing.assert_allclose(again, stored, rtol=1e-5)


def test_a_head_with_loss_weight_zero_is_evaluated_but_not_trained(
    write_spec, tmp_path: Path
) -> None:
    heads = [JET_HEADS[0], {**JET_HEADS[1], "loss_weight": 0.0}]
    model = {"hidden": [16], "heads": heads, "l2": 0.0}  # no penalty term in the total loss
    run, _ = _run(write_spec, tmp_path, {"model": model})
    history = pd.read_csv(run / "history.csv")
    # the total loss is 1·J_signal + 0·J_energy, although J_energy (in GeV², unscaled) is ~1e6:
    # the energy head adds nothing to the minimised loss. (Keras' running means of the total and
    # of each head's loss are accumulated separately and differ by < 1% here, not exactly.)
    assert (history["energy_loss"] > 1e3).all()  # still measured
    np.testing.assert_allclose(history["loss"], history["signal_loss"], rtol=0.02)
    np.testing.assert_allclose(history["val_loss"], history["val_signal_loss"], rtol=0.02)
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["heads"]) == {"signal", "energy"}
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        assert "y_true_energy" in npz  # so metrics can be binned in energy for both setups


def test_every_head_with_loss_weight_zero_is_refused(write_spec, tmp_path: Path) -> None:
    heads = [{**h, "loss_weight": 0.0} for h in JET_HEADS]
    _, output = _run(write_spec, tmp_path, {"model": {"heads": heads}}, code=2)
    assert "at least one head must be trained" in output
