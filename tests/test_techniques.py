"""Techniques of the lecture switched on from the spec, each checked for its defining property."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.utils.class_weight import compute_class_weight

from expctl.cli import cli
from expctl.training.fit import class_weights


def run_spec(write_spec, tmp_path: Path, extra: dict, name: str = "spec.yaml") -> Path:
    out = tmp_path / name.replace(".yaml", "")
    result = CliRunner().invoke(
        cli, ["run", str(write_spec(extra, name=name)), "--output-dir", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_balanced_class_weights_equal_sklearn() -> None:
    y = np.array([0] * 70 + [1] * 20 + [2] * 10)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert class_weights("balanced", y, 3) == pytest.approx(dict(enumerate(expected)))
    assert class_weights({1: 3.0}, y, 3) == {0: 1.0, 1: 3.0, 2: 1.0}
    with pytest.raises(ValueError, match="class 5 does not exist"):
        class_weights({5: 2.0}, y, 3)


def test_class_weight_balanced_raises_the_minority_selection_rate(
    write_spec, tmp_path: Path
) -> None:
    base = {"data": {"n_samples": 2000, "signal_fraction": 0.15}, "train": {"epochs": 3}}
    rates = []
    for i, weight in enumerate((None, "balanced")):
        run = run_spec(
            write_spec,
            tmp_path,
            {**base, "train": {"epochs": 3, "class_weight": weight}},
            f"s{i}.yaml",
        )
        with np.load(run / "predictions.npz", allow_pickle=False) as npz:
            rates.append(float(np.mean(npz["y_score"] > 0.5)))
    # unweighted, the rare signal is under-selected; weighting classes equally selects far more
    assert rates[1] > rates[0] + 0.05


@pytest.mark.parametrize(("start", "stopped"), [(0, 2), (3, 5)])
def test_early_stopping_start_from_epoch(
    write_spec, tmp_path: Path, start: int, stopped: int
) -> None:
    es = {"monitor": "val_loss", "patience": 0, "min_delta": 10.0, "start_from_epoch": start}
    run = run_spec(write_spec, tmp_path, {"train": {"epochs": 10, "early_stopping": es}})
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stopped_epoch"] == stopped
    assert len(pd.read_csv(run / "history.csv")) == stopped


@pytest.mark.parametrize(
    "extra",
    [
        {"train": {"label_smoothing": 0.1}},
        {"data": {"label_noise": 0.1}},
        {"train": {"class_weight": "balanced"}},
    ],
)
def test_classification_keys_are_refused_for_regression(
    write_spec, tmp_path: Path, extra: dict
) -> None:
    from tests.conftest import deep_merge

    spec = write_spec(deep_merge({"data": {"target": "energy"}}, extra))
    assert "target: energy" in spec.read_text()
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(tmp_path / "o")])
    assert result.exit_code == 2 and "applies to classification only" in result.output
    assert not (tmp_path / "o").exists()


def test_regularisers_from_the_spec_reach_the_saved_model(write_spec, tmp_path: Path) -> None:
    from expctl.models import load_model
    from expctl.models.regularizers import NoisyDense

    extra = {
        "model": {
            "hidden": [16, 8],
            "weight_clip": 0.05,
            "max_norm": 0.15,
            "input_noise": 0.3,
            "weight_noise": 0.01,
            "weight_noise_dist": "uniform",
        },
        "train": {"label_smoothing": 0.1, "optimizer": {"name": "adam", "learning_rate": 0.05}},
    }
    run = run_spec(write_spec, tmp_path, extra)
    model = load_model(run / "model.keras")
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["features", "standardize", "input_noise"]
    assert model.get_layer("input_noise").stddev == 0.3
    for name in ("dense_1", "dense_2"):
        layer = model.get_layer(name)
        assert (
            isinstance(layer, NoisyDense)
            and layer.weight_noise == 0.01
            and layer.weight_noise_dist == "uniform"
        )
        kernel = layer.kernel.numpy()
        assert np.abs(kernel).max() <= 0.05 + 1e-7  # clipped after every update
        assert np.abs(kernel).max() > 0.04  # a large learning rate pushes weights to the bound
        assert np.linalg.norm(kernel, axis=0).max() <= 0.15 + 1e-6  # max-norm per unit
    assert model.loss.label_smoothing == pytest.approx(0.1)
    # noise on inputs and weights is off at inference: the stored predictions are reproduced
    from expctl.data import prepare
    from expctl.spec import load_spec

    loaded = load_spec(run / "spec.yaml")
    data = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed)
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        np.testing.assert_allclose(
            model.predict(data.test.x, verbose=0)[:, 0], npz["y_score"], atol=1e-6
        )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"name": "step", "every_epochs": 1, "factor": 0.5}, [0.01, 0.005, 0.0025]),
        (
            {"name": "exponential", "decay_rate": 0.1, "decay_epochs": 1, "staircase": True},
            [0.01, 0.001, 0.0001],
        ),
        ({"name": "constant"}, [0.01, 0.01, 0.01]),
    ],
)
def test_schedule_from_the_spec_sets_each_epochs_rate(
    write_spec, tmp_path: Path, schedule, expected
) -> None:
    run = run_spec(write_spec, tmp_path, {"train": {"epochs": 3, "schedule": schedule}})
    history = pd.read_csv(run / "history.csv")
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-6)


def test_plateau_schedule_halves_the_rate_when_validation_stalls(
    write_spec, tmp_path: Path
) -> None:
    schedule = {"name": "plateau", "factor": 0.5, "patience": 1, "min_delta": 10.0}
    run = run_spec(write_spec, tmp_path, {"train": {"epochs": 4, "schedule": schedule}})
    # min_delta 10 means no epoch counts as an improvement: the rate halves after every epoch but the first
    rates = pd.read_csv(run / "history.csv")["learning_rate"].tolist()
    np.testing.assert_allclose(rates, [0.01, 0.01, 0.005, 0.0025], rtol=1e-6)


def test_event_weights_enter_the_loss_and_every_metric(write_spec, tmp_path: Path) -> None:
    from sklearn.metrics import log_loss, roc_auc_score

    rng = np.random.default_rng(0)
    n = 1500
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({"a": rng.normal(size=n) + label, "b": rng.normal(size=n), "label": label})
    frame["w"] = np.where(label == 1, rng.uniform(0.5, 4.0, n), rng.uniform(0.1, 1.0, n))
    frame.to_csv(tmp_path / "events.csv", index=False)
    data = {"source": "csv", "path": "events.csv", "target": "label", "n_samples": None}
    base = {"data": data, "train": {"epochs": 2}}
    weighted = run_spec(
        write_spec, tmp_path, {**base, "data": {**data, "weight": "w"}}, "weighted.yaml"
    )
    plain = run_spec(write_spec, tmp_path, base, "plain.yaml")

    info = json.loads((weighted / "data.json").read_text())
    assert info["features"] == ["a", "b"]  # the weight column is not a feature
    metrics = json.loads((weighted / "metrics.json").read_text())
    with np.load(weighted / "predictions.npz", allow_pickle=False) as npz:
        y, s, w = npz["y_true"], npz["y_score"], npz["weight"]
    assert len(w) == len(y) and sum(info["sum_of_weights"].values()) == pytest.approx(
        frame["w"].sum()
    )
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-9)
    assert metrics["loss"] == pytest.approx(log_loss(y, s, sample_weight=w), rel=1e-9)
    assert metrics["accuracy"] == pytest.approx(np.sum(w * ((s > 0.5) == y)) / np.sum(w), rel=1e-9)
    # the weights change training itself, not only the evaluation
    h_weighted = pd.read_csv(weighted / "history.csv")["loss"]
    h_plain = pd.read_csv(plain / "history.csv")["loss"]
    assert not np.allclose(h_weighted, h_plain)


def test_adversarial_and_pruning_from_the_spec(write_spec, tmp_path: Path) -> None:
    """FGSM training + pruning: metrics.json reports robustness at ε and the reached sparsity."""
    extra = {
        "model": {"hidden": [32, 16]},
        "train": {
            "epochs": 3,
            "adversarial": {"epsilon": 0.2, "weight": 0.5},
            "pruning": {"target_sparsity": 0.7, "start_epoch": 1, "end_epoch": 3},
        },
    }
    run = run_spec(write_spec, tmp_path, extra)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["sparsity"] == pytest.approx(0.7, abs=0.01)
    assert metrics["target_sparsity"] == 0.7
    assert metrics["adversarial_epsilon"] == 0.2
    # the attack makes things worse, never better, on a trained classifier
    assert metrics["adversarial_auc"] < metrics["auc"]
    assert metrics["adversarial_loss"] > metrics["loss"]
    history = pd.read_csv(run / "history.csv")
    # epoch 1 trains dense, epoch 2 at s(2) = 0.7·(1 - 1/8), epoch 3 at the target
    np.testing.assert_allclose(history["sparsity"], [0.0, 0.6125, 0.7], atol=0.01)
    from expctl.models.io import load_model
    from expctl.training.pruning import sparsity

    model = load_model(run / "model.keras")  # a plain model: no trainer, no masks
    assert sparsity(model) == pytest.approx(metrics["sparsity"])
    spec_text = (run / "spec.yaml").read_text()
    assert "adversarial:" in spec_text and "target_sparsity: 0.7" in spec_text
    summary = (run / "model_summary.txt").read_text()
    assert "adversarial training: fgsm, epsilon 0.2" in summary
    assert "pruning: magnitude, target sparsity 0.7" in summary
    assert "dropout_1 (Dropout)" in summary and "rate=0.1" in summary  # TINY's dropout


@pytest.mark.parametrize(
    ("train", "expect"),
    [
        (
            {"epochs": 5, "pruning": {"target_sparsity": 0.5, "end_epoch": 6}},
            "train.pruning.end_epoch (6) must be at most train.epochs (5)",
        ),
        (
            {
                "epochs": 9,
                "pruning": {"target_sparsity": 0.5, "end_epoch": 6},
                "early_stopping": {"monitor": "val_loss", "start_from_epoch": 2},
            },
            "start_from_epoch (2) must be at least 5",
        ),
        ({"adversarial": {"epsilon": 0}}, "train.adversarial.epsilon"),
        ({"adversarial": {"method": "pgd"}}, "train.adversarial.method"),
        ({"pruning": {"target_sparsity": 1.0}}, "train.pruning.target_sparsity"),
    ],
)
def test_adversarial_and_pruning_keys_are_validated(
    write_spec, tmp_path: Path, train: dict, expect: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(write_spec({"train": train})), "--output-dir", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert expect in result.output
    assert not out.exists() or not any(out.iterdir())


def test_mixed_bfloat16_and_jit_compile(write_spec, tmp_path: Path) -> None:
    import keras

    from expctl.models.io import load_model

    base = run_spec(write_spec, tmp_path, {}, "base.yaml")
    mixed = run_spec(
        write_spec,
        tmp_path,
        {"train": {"precision": "mixed_bfloat16", "jit_compile": True}},
        "mixed.yaml",
    )
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    model = load_model(mixed / "model.keras")
    assert model.get_layer("dense_1").compute_dtype == "bfloat16"
    assert model.get_layer("dense_1").variable_dtype == "float32"  # weights stay float32
    assert model.get_layer("output").compute_dtype == "float32"
    assert model.get_layer("standardize").compute_dtype == "float32"
    a = json.loads((base / "metrics.json").read_text())
    b = json.loads((mixed / "metrics.json").read_text())
    assert abs(a["auc"] - b["auc"]) < 0.03  # 16-bit activations: close, not equal
    assert "precision: mixed_bfloat16" in (mixed / "model_summary.txt").read_text()
    import tensorflow as tf

    # the run after it is deterministic again (XLA is only on for the run that asked)
    run_spec(write_spec, tmp_path, {}, "after.yaml")
    from tensorflow.python.framework.config import is_op_determinism_enabled

    assert is_op_determinism_enabled() and tf.executing_eagerly()
