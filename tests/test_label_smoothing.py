"""Random label smoothing (the lecture's ε ~ N(0, σ_ε) per event) beside the fixed ε.

The drawn ε are read back from the per-event loss itself: with a fixed prediction the
cross-entropy is linear in the target, so each event's loss gives its ε exactly. What the loss
trains on, not a helper's output, is what is checked against the half-normal distribution.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from scipy import stats

from expctl.models.regularizers import (
    BinaryCrossentropyWithSmoothing,
    RandomLabelSmoothing,
    make_loss,
)
from expctl.spec.training import RandomSmoothingSpec, TrainSpec
from expctl.training.callbacks import ReseedEachEpoch
from tests.test_resume import _cli, _history, _interrupted_run, _metrics, _run

N = 100_000  # events per draw: the standard error of the mean |ε| is ~2e-4 σ


def _per_event(loss: RandomLabelSmoothing, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The loss of each event (no reduction) with loss's current generator state."""
    per_event = RandomLabelSmoothing(loss.sigma, loss.task, reduction=None)
    per_event.seed_generator = loss.seed_generator
    return np.asarray(per_event(y, p), dtype=np.float64)


def _eps_from_binary_loss(loss: RandomLabelSmoothing, n: int) -> np.ndarray:
    """ε of n events of label 0 scored p = 0.3: their loss is -ε·log 0.3 - (1-ε)·log 0.7."""
    y, p = np.zeros(n, "float32"), np.full((n, 1), 0.3, "float32")
    ce = _per_event(loss, y, p)
    lo, hi = math.log(np.float32(0.3)), math.log(np.float32(0.7))
    return (ce + hi) / (hi - lo)


def _eps_from_multiclass_loss(loss: RandomLabelSmoothing, n: int) -> np.ndarray:
    """ε of n events of class 0 scored (0.5, 0.3, 0.2): -(1-ε)·log 0.5 - ε/2·(log 0.3 + log 0.2)."""
    row = np.array([0.5, 0.3, 0.2], "float32")
    ce = _per_event(loss, np.zeros(n, "int64"), np.tile(row, (n, 1)))
    a, b = math.log(row[0]), (math.log(row[1]) + math.log(row[2])) / 2
    return (ce + a) / (a - b)


READERS = {"binary": _eps_from_binary_loss, "multiclass": _eps_from_multiclass_loss}


# --- the targets' distribution --------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_drawn_eps_are_half_normal(task: str) -> None:
    sigma = 0.1
    eps = READERS[task](RandomLabelSmoothing(sigma, task, seed=11), N)
    mean, std = sigma * math.sqrt(2 / math.pi), sigma * math.sqrt(1 - 2 / math.pi)
    # |ε| > 0.5 (the clip, 5σ) has probability 6e-7 at σ = 0.1: the half-normal moments hold
    assert eps.min() >= -1e-5
    assert abs(eps.mean() - mean) < 5 * std / math.sqrt(N)
    assert abs(eps.std() - std) < 5 * std / math.sqrt(N)  # SE of a half-normal's std: 0.85σ/√N
    assert stats.kstest(eps, stats.halfnorm(scale=sigma).cdf).pvalue > 1e-3


@pytest.mark.parametrize(("task", "cap"), [("binary", 0.5), ("multiclass", 2 / 3)])
def test_eps_beyond_the_uniform_target_is_clipped_to_it(task: str, cap: float) -> None:
    sigma = 0.9
    eps = READERS[task](RandomLabelSmoothing(sigma, task, seed=5), N)
    clipped = np.isclose(eps, cap, atol=1e-4)
    expected = 2 * stats.norm.sf(cap / sigma)  # P(|ε| > cap)
    assert eps.max() == pytest.approx(cap, abs=1e-4)
    assert abs(clipped.mean() - expected) < 5 * math.sqrt(expected * (1 - expected) / N)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_per_event_loss_is_the_cross_entropy_with_the_drawn_targets(task: str) -> None:
    rng = np.random.default_rng(0)
    n, k = 64, 4
    loss = RandomLabelSmoothing(0.3, task, seed=2)
    start = loss.seed_generator.state.numpy()
    eps = np.asarray(loss.draw(n, 2 if task == "binary" else k), dtype=np.float64)[:, 0]
    loss.seed_generator.state.assign(start)  # the loss draws the same ε again
    if task == "binary":
        y = rng.integers(0, 2, n).astype("float32")
        p = rng.uniform(0.05, 0.95, (n, 1)).astype("float32")
        t = np.where(y == 1, 1 - eps, eps)  # the lecture: hard 0/1 → ε, 1-ε
        hand = -(t * np.log(p[:, 0]) + (1 - t) * np.log(1 - p[:, 0]))
    else:
        y = rng.integers(0, k, n)
        p = rng.dirichlet(np.ones(k), n).astype("float32")
        t = np.where(np.eye(k)[y] == 1, 1 - eps[:, None], eps[:, None] / (k - 1))
        hand = -np.sum(t * np.log(p), axis=1)
    np.testing.assert_allclose(_per_event(loss, y, p), hand, rtol=1e-4)
    assert np.ptp(eps) > 0.1  # one ε per event, not one per batch


# --- seeding: redrawn each epoch, reproducible ----------------------------------------------


def _epoch_draws(seed: int, epochs: list[int]) -> list[np.ndarray]:
    """ε of 1,000 events at the start of each epoch, reseeded by the run's ReseedEachEpoch."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    loss = RandomLabelSmoothing(0.2, "binary")
    reseed = ReseedEachEpoch(seed, generators=[loss.seed_generator])
    reseed.set_model(model)
    reseed.on_train_begin()
    draws = []
    for epoch in epochs:
        reseed.on_epoch_begin(epoch)
        draws.append(_eps_from_binary_loss(loss, 1000))
    return draws


def test_each_epoch_draws_new_eps_and_the_same_seed_the_same() -> None:
    e0, e1, e0_again = _epoch_draws(seed=7, epochs=[0, 1, 0])
    assert not np.allclose(e0, e1)
    np.testing.assert_array_equal(e0, e0_again)
    (other_run,) = _epoch_draws(seed=8, epochs=[0])
    assert not np.allclose(e0, other_run)


def test_a_run_reseeds_the_loss_and_reproduces_its_metrics(tmp_path: Path, write_spec) -> None:
    spec = write_spec({"train": {"epochs": 2, "label_smoothing": {"sigma": 0.3}}})
    first, second = _run(spec, tmp_path / "a"), _run(spec, tmp_path / "b")
    assert _metrics(first) == _metrics(second)
    assert _history(first) == _history(second)
    from expctl.models import load_model

    loaded = load_model(first / "model.keras").loss
    assert isinstance(loaded, RandomLabelSmoothing)
    assert (loaded.sigma, loaded.task) == (0.3, "binary")
    summary = (first / "model_summary.txt").read_text()
    assert "ε ~ N(0, 0.3) drawn per event" in summary


def test_resume_with_random_smoothing_reproduces_the_uninterrupted_run(
    tmp_path: Path, write_spec
) -> None:
    spec = write_spec({"train": {"epochs": 3, "label_smoothing": {"sigma": 0.3}}})
    reference = _run(spec, tmp_path / "reference")
    run = _interrupted_run(spec, tmp_path / "out", at_epoch=2)
    result = _cli("resume", str(run), "-q")
    assert result.exit_code == 0, result.output
    assert _history(run) == _history(reference)
    assert _metrics(run) == _metrics(reference)


# --- the spec: a number stays the fixed ε; {sigma} is the random one -------------------------


P_BINARY = np.array([[0.9], [0.2], [0.6], [0.3]], dtype="float32")
Y_BINARY = np.array([[1.0], [0.0], [1.0], [0.0]], dtype="float32")


def test_a_number_is_still_the_fixed_eps_by_hand(tmp_path: Path, write_spec) -> None:
    assert TrainSpec(label_smoothing=0.1).label_smoothing == 0.1
    run = _run(write_spec({"train": {"epochs": 1, "label_smoothing": 0.1}}), tmp_path / "o")
    from expctl.models import load_model

    loss = load_model(run / "model.keras").loss
    assert isinstance(loss, BinaryCrossentropyWithSmoothing)
    t = np.where(Y_BINARY == 1, 0.9, 0.1)
    hand = -np.mean(t * np.log(P_BINARY) + (1 - t) * np.log(1 - P_BINARY))
    assert float(loss(Y_BINARY, P_BINARY)) == pytest.approx(hand, rel=1e-5)
    assert "label smoothing: targets 0.1 and 1-ε" in (run / "model_summary.txt").read_text()


def test_sigma_form_parses_and_make_loss_builds_the_random_loss() -> None:
    smoothing = TrainSpec(label_smoothing={"sigma": 0.1}).label_smoothing
    assert smoothing == RandomSmoothingSpec(sigma=0.1)
    assert TrainSpec.model_validate(TrainSpec(label_smoothing=smoothing).model_dump()) == (
        TrainSpec(label_smoothing={"sigma": 0.1})
    )
    loss = make_loss("multiclass", sigma=0.1)
    assert isinstance(loss, RandomLabelSmoothing) and (loss.sigma, loss.task) == (0.1, "multiclass")
    for bad in (
        lambda: make_loss("regression", sigma=0.1),
        lambda: make_loss("binary", 0.1, sigma=0.1),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"sigma": 1.0}, "train.label_smoothing: sigma: Input should be less than 1"),
        ({"sigma": 0}, "train.label_smoothing: sigma: Input should be greater than 0"),
        ({"sigma": 0.1, "sigmaa": 1}, "unknown key 'sigmaa'"),
        ({}, "sigma: required key missing"),
        (0.5, "train.label_smoothing: Input should be less than 0.5"),
        ("0.1", "Input should be a valid number"),
    ],
)
def test_bad_smoothing_is_refused_with_its_key_path(
    tmp_path: Path, write_spec, value: Any, message: str
) -> None:
    spec = write_spec({"train": {"label_smoothing": value}})
    result = _cli("run", str(spec), "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert message in result.output and "spec.yaml:" in result.output
    assert not (tmp_path / "o").exists()


def test_random_smoothing_is_refused_for_regression(tmp_path: Path, write_spec) -> None:
    spec = write_spec({"data": {"target": "energy"}, "train": {"label_smoothing": {"sigma": 0.1}}})
    result = _cli("run", str(spec), "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 2 and "applies to classification only" in result.output
    assert not (tmp_path / "o").exists()


def test_ablate_switches_random_smoothing_off() -> None:
    from expctl.ablate import variants
    from expctl.spec import spec_from_dict
    from expctl.spec.load import validate
    from expctl.spec.yamlio import Document

    spec = spec_from_dict({"train": {"label_smoothing": {"sigma": 0.1}}})
    off = dict(variants(spec))["no label_smoothing"]
    changed = validate(Document(spec.model_dump(mode="python"), "<t>"), off)
    assert changed.train.label_smoothing == 0.0
