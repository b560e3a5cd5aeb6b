"""Print every measured number of docs/jets.md (the built-in `jets` data and its exact ratio).

    uv run python benchmarks/reproduce_jets_numbers.py [--skip-baselines]

No training with Keras: the numbers come from `expctl.data.jets` (the generator and the exact
log-likelihood ratio) and scikit-learn. Each section's title names the docs' paragraph. Takes
about a minute and a half on a 2-core CPU, a third of it the gradient-boosting baselines
(`--skip-baselines`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from expctl.data.jets import (
    JET_FEATURES,
    _feature_llr,
    bayes_optimal_auc,
    generate_jets,
    log_likelihood_ratio,
)

MILLION = 1_000_000
SEEDS = (0, 1, 2, 3, 4)
ENERGY_BINS = [(0, 400, "< 400 GeV"), (400, 700, "400–700 GeV"), (700, 1000, "700–1000 GeV")]
ENERGY_BINS.append((1000, np.inf, "> 1000 GeV"))
PT_BINS = [(250, 400), (400, 700), (700, 1000), (1000, 2000), (2000, 4000)]


def auc_where(y: np.ndarray, score: np.ndarray, mask: np.ndarray) -> float:
    return float(roc_auc_score(y[mask], score[mask]))


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()

    print("## generate_jets: speed")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        generate_jets(MILLION, seed=0)
        times.append(time.perf_counter() - start)
    print(f"generate_jets(1,000,000): {min(times):.2f} s (best of 3; all {times})\n")

    print("## Bayes-optimal AUC on 1,000,000 jets")
    start = time.perf_counter()
    print(f"bayes_optimal_auc() (seed 12345): {bayes_optimal_auc():.4f}", end="")
    print(f"  ({time.perf_counter() - start:.1f} s)")
    samples = {seed: generate_jets(MILLION, seed) for seed in SEEDS}
    llrs = {seed: log_likelihood_ratio(df) for seed, df in samples.items()}
    aucs = [float(roc_auc_score(samples[s]["label"], llrs[s])) for s in SEEDS]
    print("seeds 0-4: " + ", ".join(f"{a:.4f}" for a in aucs), end="")
    print(f"; mean {statistics.mean(aucs):.4f}, sd {statistics.stdev(aucs):.4f}")
    unphysical = [int((df["mass"] > df["energy"]).sum()) for df in samples.values()]
    print(f"jets with mass > energy per million, seeds 0-4: {unphysical}\n")

    print("## In bins of jet energy (mean ± sd over seeds 0-4)")
    print("| energy | share of jets | Bayes-optimal AUC |\n|---|---|---|")
    for low, high, label in ENERGY_BINS:
        shares, bin_aucs = [], []
        for seed in SEEDS:
            energy = samples[seed]["energy"].to_numpy()
            mask = (energy >= low) & (energy < high)
            shares.append(mask.mean())
            bin_aucs.append(auc_where(samples[seed]["label"].to_numpy(), llrs[seed], mask))
        print(f"| {label} | {100 * statistics.mean(shares):.0f} % | {mean_sd(bin_aucs)} |")
    edges, terciles = [], []
    for seed in SEEDS:
        energy, y = samples[seed]["energy"].to_numpy(), samples[seed]["label"].to_numpy()
        lo, hi = np.quantile(energy, [1 / 3, 2 / 3])
        edges.append((lo, hi))
        masks = [energy < lo, (energy >= lo) & (energy < hi), energy >= hi]
        terciles.append([auc_where(y, llrs[seed], m) for m in masks])
    lo, hi = np.mean(edges, axis=0)
    means = np.mean(terciles, axis=0)
    print(f"energy terciles (boundaries {lo:.0f} and {hi:.0f} GeV): ", end="")
    print(", ".join(f"{a:.4f}" for a in means) + " (mean over seeds 0-4)")
    print("pt bins (seed 0): ", end="")
    pt, y = samples[0]["pt"].to_numpy(), samples[0]["label"].to_numpy()
    cells = []
    for low, high in PT_BINS:
        mask = (pt >= low) & (pt < high)
        cells.append(
            f"{low}-{high} GeV {auc_where(y, llrs[0], mask):.3f} ({100 * mask.mean():.0f} %)"
        )
    print("; ".join(cells) + "\n")

    print("## One feature at a time (seed 0): the AUC of that feature's term of the ratio")
    terms = _feature_llr(samples[0])
    print(", ".join(f"{name} {roc_auc_score(y, term):.3f}" for name, term in terms.items()))
    print()

    print("## Statistical spread of the Bayes-optimal AUC between samples of N jets (200 seeds)")
    for n in (4_000, 20_000):
        spread = []
        for seed in range(200):
            df = generate_jets(n, seed=10_000 + seed)
            spread.append(roc_auc_score(df["label"], log_likelihood_ratio(df)))
        print(f"N = {n:,}: sd {np.std(spread, ddof=1):.4f}  (0.0003·√(1e6/N) = ", end="")
        print(f"{0.0003 * np.sqrt(MILLION / n):.4f})")
    print()

    if args.skip_baselines:
        return
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    print("## Baselines trained on 20,000 jets (seeds 0-4), evaluated on 1,000,000 (seed 999)")
    test = generate_jets(MILLION, seed=999)
    features = list(JET_FEATURES)
    y_test, energy = test["label"].to_numpy(), test["energy"].to_numpy()
    masks = [(energy >= low) & (energy < high) for low, high, _ in ENERGY_BINS]
    header = " | ".join(label for _, _, label in ENERGY_BINS)
    print(f"| model | AUC | {header} |\n|---|---|---|---|---|---|")
    llr = log_likelihood_ratio(test)
    cells = " | ".join(f"{auc_where(y_test, llr, m):.4f}" for m in masks)
    print(f"| exact likelihood ratio | {roc_auc_score(y_test, llr):.4f} | {cells} |")
    models = {
        "gradient boosting (`HistGradientBoostingClassifier(max_iter=200)`)": lambda: (
            HistGradientBoostingClassifier(max_iter=200, random_state=0)
        ),
        "logistic regression (standardised inputs)": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
    }
    for name, make in models.items():
        totals, binned = [], []
        for seed in SEEDS:
            train = generate_jets(20_000, seed=seed)
            model = make().fit(train[features], train["label"])
            score = model.predict_proba(test[features])[:, 1]
            totals.append(float(roc_auc_score(y_test, score)))
            binned.append([auc_where(y_test, score, m) for m in masks])
        cells = " | ".join(f"{a:.4f}" for a in np.mean(binned, axis=0))
        print(f"| {name} | {mean_sd(totals)} | {cells} |")


if __name__ == "__main__":
    main()
