"""The built-in synthetic jets: determinism, physical ranges, and an exact likelihood ratio."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from expctl.data import jets
from expctl.data.jets import (
    JET_COLUMNS,
    JET_FEATURES,
    bayes_optimal_auc,
    generate_jets,
    log_likelihood_ratio,
)

SUBSTRUCTURE = ("mass", "n_constituents", "width", "tau21", "c2")


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return generate_jets(200_000, seed=2024)


@pytest.fixture(scope="module")
def big_llr(big: pd.DataFrame) -> np.ndarray:
    return log_likelihood_ratio(big)


# --- API, determinism, ranges -------------------------------------------------------------------


def test_import_is_light() -> None:
    """Importing the module loads no scikit-learn, TensorFlow, Keras or matplotlib."""
    code = (
        "import sys, expctl.data.jets; "
        "print(sorted(m for m in ('sklearn', 'tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_columns_and_dtypes() -> None:
    assert JET_FEATURES == ("pt", "eta", "mass", "n_constituents", "width", "tau21", "c2")
    assert (*JET_FEATURES, "energy", "label") == JET_COLUMNS
    df = generate_jets(500, seed=1)
    assert tuple(df.columns) == JET_COLUMNS
    assert len(df) == 500
    for col in JET_COLUMNS[:-1]:
        assert df[col].dtype == np.float64, col
    assert df["label"].dtype == np.int64
    assert isinstance(df.index, pd.RangeIndex)


def test_same_seed_same_data_different_seed_different_data() -> None:
    a = generate_jets(3000, seed=7)
    pd.testing.assert_frame_equal(a, generate_jets(3000, seed=7))
    b = generate_jets(3000, seed=8)
    for col in JET_COLUMNS:
        assert not np.array_equal(a[col].to_numpy(), b[col].to_numpy()), col
    c = generate_jets(3000, seed=7, signal_fraction=0.3)
    assert not a.equals(c)


def test_no_global_random_state_used() -> None:
    np.random.seed(0)
    a = generate_jets(1000, seed=3)
    np.random.seed(1)
    state = np.random.get_state()
    b = generate_jets(1000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]


@pytest.mark.parametrize(
    ("n", "fraction"), [(2, 0.5), (1001, 0.3), (10_000, 0.5), (999, 0.9), (12345, 0.0123)]
)
def test_exact_class_counts_and_shuffled(n: int, fraction: float) -> None:
    df = generate_jets(n, seed=11, signal_fraction=fraction)
    assert len(df) == n
    assert int(df["label"].sum()) == round(n * fraction)
    assert set(np.unique(df["label"])) <= {0, 1}
    if n >= 1000:  # signal is not in a block at the start
        first = df["label"].to_numpy()[: round(n * fraction)]
        assert 0 < first.sum() < first.size


def test_finite_and_physical(big: pd.DataFrame) -> None:
    values = big[list(JET_COLUMNS)].to_numpy(dtype=np.float64)
    assert np.isfinite(values).all()
    assert (big["pt"] >= jets.PT_MIN).all() and (big["pt"] <= jets.PT_MAX).all()
    assert (big["eta"].abs() <= 2.5).all()
    assert (big["energy"] >= big["pt"]).all()
    np.testing.assert_allclose(big["energy"], big["pt"] * np.cosh(big["eta"]), rtol=1e-12)
    assert (big["mass"] > 0).all()
    assert (big["width"] > 0).all()
    assert (big["c2"] > 0).all()
    assert ((big["tau21"] > 0) & (big["tau21"] < 1)).all()
    n_const = big["n_constituents"].to_numpy()
    assert (n_const >= 0).all()
    np.testing.assert_array_equal(n_const, np.round(n_const))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 1},
        {"n_samples": 0},
        {"n_samples": -5},
        {"n_samples": 10.0},
        {"n_samples": True},
        {"n_samples": "100"},
        {"n_samples": 100, "signal_fraction": 0.0},
        {"n_samples": 100, "signal_fraction": 1.0},
        {"n_samples": 100, "signal_fraction": -0.2},
        {"n_samples": 100, "signal_fraction": math.nan},
        {"n_samples": 100, "signal_fraction": "0.5"},
        {"n_samples": 100, "seed": -1},
        {"n_samples": 100, "seed": 1.5},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict) -> None:
    kwargs.setdefault("seed", 0)
    with pytest.raises(ValueError):
        generate_jets(**kwargs)


def test_numpy_integers_accepted() -> None:
    df = generate_jets(np.int64(100), seed=np.int32(4), signal_fraction=np.float64(0.25))
    pd.testing.assert_frame_equal(df, generate_jets(100, seed=4, signal_fraction=0.25))


# --- The densities behind the likelihood ratio match the sampler -----------------------------------


def _pit(dist: object, x: np.ndarray, discrete: bool, rng: np.random.Generator) -> np.ndarray:
    """Probability-integral transform; randomised for a discrete variable, so it is U(0,1)."""
    if not discrete:
        return dist.cdf(x)
    lo, hi = dist.cdf(x - 1), dist.cdf(x)
    return lo + rng.random(x.size) * (hi - lo)


@pytest.mark.parametrize("label", [1, 0])
@pytest.mark.parametrize("pt_range", [(250, 4000), (250, 350), (700, 1000), (1500, 4000)])
def test_samples_follow_the_conditional_densities(
    big: pd.DataFrame, label: int, pt_range: tuple[float, float]
) -> None:
    """Under the conditional CDF each feature is Uniform(0, 1) (KS test), also in pt slices."""
    rng = np.random.default_rng(0)
    sel = big[(big["label"] == label) & big["pt"].between(*pt_range)]
    assert len(sel) > 2000
    dists = jets._conditionals(sel["pt"].to_numpy(), sel["mass"].to_numpy(), bool(label))
    for name in SUBSTRUCTURE:
        u = _pit(dists[name], sel[name].to_numpy(), name == "n_constituents", rng)
        p = stats.kstest(u, "uniform").pvalue
        assert p > 1e-3, (name, label, pt_range, p)


def test_kinematics_follow_the_shared_spectrum(big: pd.DataFrame) -> None:
    log_pt = np.log(big["pt"].to_numpy() / jets.PT_MIN)
    span = math.log(jets.PT_MAX / jets.PT_MIN)
    trunc = stats.truncexpon(b=span / jets.LOG_PT_SCALE, scale=jets.LOG_PT_SCALE)
    for label in (0, 1):
        sel = big["label"].to_numpy() == label
        assert stats.kstest(log_pt[sel], trunc.cdf).pvalue > 1e-3
        eta = big["eta"].to_numpy()[sel]
        assert stats.kstest(eta, stats.uniform(-2.5, 5.0).cdf).pvalue > 1e-3


def test_llr_matches_hand_written_formulas() -> None:
    """One jet, evaluated from the formulas in docs/jets.md with nothing but `math`."""
    df = pd.DataFrame(
        {
            "pt": [600.0],
            "eta": [0.3],
            "mass": [85.0],
            "n_constituents": [35.0],
            "width": [0.1],
            "tau21": [0.4],
            "c2": [0.15],
        }
    )
    pt, m, n, w, tau, c2 = 600.0, 85.0, 35, 0.1, 0.4, 0.15
    t = math.log(pt / 250) / math.log(8)
    g = math.exp(-t / 0.3)

    def log_normal(x: float, median: float, sigma: float) -> float:
        z = (math.log(x) - math.log(median)) / sigma
        return -0.5 * z * z - math.log(sigma * x * math.sqrt(2 * math.pi))

    def log_beta(x: float, mean: float, conc: float) -> float:
        a, b = mean * conc, (1 - mean) * conc
        log_b = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        return (a - 1) * math.log(x) + (b - 1) * math.log(1 - x) - log_b

    def log_poisson(k: int, rate: float) -> float:
        return k * math.log(rate) - rate - math.lgamma(k + 1)

    sig = (
        log_normal(m, 80.4, 0.10 + 0.35 * t)
        + log_poisson(n, 30 + 10 * t)
        + log_normal(w, 0.65 * m / pt, 0.35)
        + log_beta(tau, 0.55 - 0.25 * g, 8.0)
        + log_normal(c2, 0.22 * (0.12 / 0.22) ** g, 0.40)
    )
    bkg = (
        log_normal(m, 80.4 * math.sqrt(pt / 700), 0.50)
        + log_poisson(n, 34 + 11 * t)
        + log_normal(w, 0.80 * m / pt, 0.35)
        + log_beta(tau, 0.55, 8.0)
        + log_normal(c2, 0.22, 0.40)
    )
    np.testing.assert_allclose(log_likelihood_ratio(df), [sig - bkg], rtol=1e-10)


def test_llr_ignores_kinematics_label_energy_and_column_order(big: pd.DataFrame) -> None:
    part = big.iloc[:1000]
    llr = log_likelihood_ratio(part)
    assert llr.shape == (1000,) and llr.dtype == np.float64
    shuffled = part[list(reversed(JET_FEATURES))].copy()  # no energy/label, other order
    np.testing.assert_array_equal(log_likelihood_ratio(shuffled), llr)
    # eta only enters through energy: the ratio does not depend on it
    moved = part.assign(eta=-part["eta"])
    np.testing.assert_array_equal(log_likelihood_ratio(moved), llr)
    with pytest.raises(ValueError, match="width"):
        log_likelihood_ratio(part.drop(columns=["width"]))


def _calibration_chi2(llr: np.ndarray, label: np.ndarray, n_bins: int = 25) -> float:
    """Chi2 of the observed signal fraction in bins of llr against sigmoid(llr).

    With balanced classes P(signal | x) = sigmoid(llr(x)) exactly when llr is the true ratio.
    """
    edges = np.quantile(llr, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, llr, side="right") - 1, 0, n_bins - 1)
    prob = 1.0 / (1.0 + np.exp(-llr))
    observed = np.bincount(which, weights=label, minlength=n_bins)
    expected = np.bincount(which, weights=prob, minlength=n_bins)
    variance = np.bincount(which, weights=prob * (1 - prob), minlength=n_bins)
    return float(np.sum((observed - expected) ** 2 / variance))


def test_llr_is_calibrated(big: pd.DataFrame, big_llr: np.ndarray) -> None:
    """The exact ratio gives the true posterior; a ratio with any one term off is caught.

    (Dropping a term would not be caught, rightly: by conditional independence what is left is the
    exact likelihood ratio of the remaining features, and is calibrated too.)
    """
    label = big["label"].to_numpy()
    # chi2 with 25 dof: mean 25, sd ~7; 60 is a five-sigma bound.
    assert _calibration_chi2(big_llr, label) < 60
    assert _calibration_chi2(1.15 * big_llr, label) > 200
    for name, term in jets._feature_llr(big).items():
        assert _calibration_chi2(big_llr + 0.3 * term, label) > 100, name


def test_importance_weights_turn_signal_into_background(
    big: pd.DataFrame, big_llr: np.ndarray
) -> None:
    """E_s[p_b / p_s ; A] = P_b(A) for any region A; with A = {llr > 0} the weights are <= 1.

    (On the whole space E_s[exp(-llr)] = 1 too, but its variance is infinite here: the
    background mass density has far heavier tails than the signal's.)
    """
    label = big["label"].to_numpy()
    s, b = big_llr[label == 1], big_llr[label == 0]
    weights = np.where(s > 0, np.exp(-s), 0.0)
    lhs, lhs_err = weights.mean(), weights.std() / math.sqrt(s.size)
    rhs = (b > 0).mean()
    rhs_err = math.sqrt(rhs * (1 - rhs) / b.size)
    assert abs(lhs - rhs) < 5 * math.hypot(lhs_err, rhs_err)


# --- Bayes-optimal separation and its energy dependence ---------------------------------------------


def test_bayes_auc_in_expected_range(big: pd.DataFrame, big_llr: np.ndarray) -> None:
    auc = roc_auc_score(big["label"], big_llr)
    assert 0.91 < auc < 0.945
    assert bayes_optimal_auc(20_000, seed=5) == bayes_optimal_auc(20_000, seed=5)
    assert abs(bayes_optimal_auc(200_000, seed=9) - auc) < 0.005


def test_separation_falls_with_energy(big: pd.DataFrame, big_llr: np.ndarray) -> None:
    energy, label = big["energy"].to_numpy(), big["label"].to_numpy()
    lo, hi = np.quantile(energy, [1 / 3, 2 / 3])
    low = roc_auc_score(label[energy < lo], big_llr[energy < lo])
    mid = roc_auc_score(
        label[(energy >= lo) & (energy < hi)], big_llr[(energy >= lo) & (energy < hi)]
    )
    high = roc_auc_score(label[energy >= hi], big_llr[energy >= hi])
    assert low > mid > high
    assert low - high > 0.05
    below_400 = energy < 400
    above_1000 = energy > 1000
    assert roc_auc_score(label[below_400], big_llr[below_400]) > 0.96
    assert roc_auc_score(label[above_1000], big_llr[above_1000]) < 0.91


# --- No classifier beats the likelihood ratio on the same events -----------------------------------


def bootstrap_aucs(y: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The AUC of `score` on each bootstrap resample, given as event counts (one row a resample).

    A resample that draws an event k times weighs it by k; ties count one half, as in sklearn.
    """
    order = np.argsort(score, kind="stable")
    label, counts = y[order], counts[:, order]
    starts = np.unique(score[order], return_index=True)[1]  # groups of equal scores
    pos = np.add.reduceat(counts * (label == 1), starts, axis=1)
    neg = np.add.reduceat(counts * (label == 0), starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    return (pos * (neg_below + 0.5 * neg)).sum(1) / (pos.sum(1) * neg.sum(1))


def paired_auc_gain_lower_bound(
    y: np.ndarray, score: np.ndarray, reference: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """AUC(score) - AUC(reference) on the same events, and the lower end of its one-sided 95%
    paired-bootstrap interval (both scores on the same resampled events, percentile method)."""
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(n_boot // 100):  # 100 resamples at a time keeps the count matrix small
        draws = rng.integers(0, len(y), size=(100, len(y))) + len(y) * np.arange(100)[:, None]
        counts = np.bincount(draws.ravel(), minlength=100 * len(y)).reshape(100, len(y))
        gains.append(bootstrap_aucs(y, score, counts) - bootstrap_aucs(y, reference, counts))
    gain = roc_auc_score(y, score) - roc_auc_score(y, reference)
    return gain, float(np.quantile(np.concatenate(gains), 0.05))


def test_bootstrap_aucs_are_sklearns_weighted_aucs() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = np.round(rng.normal(size=300) + y, 1)  # rounded: many ties
    counts = rng.multinomial(300, np.full(300, 1 / 300), size=3).astype(float)
    expected = [roc_auc_score(y, score, sample_weight=c) for c in counts]
    np.testing.assert_allclose(bootstrap_aucs(y, score, counts), expected, rtol=1e-12)


def assert_not_above_the_ratio(y: np.ndarray, score: np.ndarray, llr: np.ndarray) -> float:
    """Fail when `score`'s AUC is significantly above the exact ratio's on the same events."""
    gain, lower = paired_auc_gain_lower_bound(y, score, llr)
    print(f"AUC gain over the likelihood ratio {gain:+.4f}, one-sided 95% lower bound {lower:+.4f}")
    assert lower <= 0, (
        f"AUC gain over the likelihood ratio {gain:+.4f}, 95% lower bound {lower:+.4f}"
    )
    return gain


@pytest.mark.parametrize(
    ("model", "flexible"),
    [
        (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), False),
        (HistGradientBoostingClassifier(max_iter=200, random_state=0), True),
    ],
    ids=["logistic", "gradient_boosting"],
)
def test_trained_classifiers_do_not_beat_the_likelihood_ratio(
    model: object, flexible: bool
) -> None:
    train = generate_jets(20_000, seed=101)
    test = generate_jets(20_000, seed=202)
    features = list(JET_FEATURES)
    model.fit(train[features], train["label"])
    score = model.predict_proba(test[features])[:, 1]
    gain = assert_not_above_the_ratio(test["label"].to_numpy(), score, log_likelihood_ratio(test))
    if flexible:  # gradient boosting gets close: the data is learnable from 20k events
        assert gain > -0.02


@pytest.mark.slow  # three small trainings: ~15 s
def test_no_trained_network_beats_the_likelihood_ratio(tmp_path: Path) -> None:
    """On each run's own test events the network's AUC is not significantly above the exact
    ratio's (one-sided 95% paired bootstrap), for three seeds, and comes within 0.03 of it."""
    import expctl
    from expctl.data import prepare
    from expctl.spec import load_spec

    spec = {
        "name": "ceiling",
        "data": {"source": "jets", "n_samples": 10_000},
        "model": {"type": "mlp", "hidden": [32, 32]},
        "train": {"optimizer": {"name": "adam", "learning_rate": 3e-3}, "batch_size": 128},
    }
    for seed in (1, 2, 3):
        run = expctl.run({**spec, "seed": seed}, tmp_path, train__epochs=6)
        loaded = load_spec(run.path / "spec.yaml")
        test = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed).test
        frame = pd.DataFrame(test.x.astype(np.float64), columns=list(JET_FEATURES))
        y, score = run.predictions["y_true"], run.predictions["y_score"]
        np.testing.assert_array_equal(y, test.y)  # the same events, in the same order
        gain = assert_not_above_the_ratio(y, score, log_likelihood_ratio(frame))
        assert gain > -0.03, (seed, gain)  # the network did learn: a broken one passes nothing
