"""The exact likelihood ratio's AUC on the quickstart's test events, and a run's AUC beside it.

    uv run python benchmarks/reproduce_quickstart_ceiling.py [RUN]

Prepares the data of experiments/quickstart.yaml (no training: the same seeded split a run uses)
and prints the AUC of `expctl.data.jets.log_likelihood_ratio` on its test split: the best any
classifier can reach on those events (README, "Set-up and first run"). Given a quickstart run
directory RUN (e.g. one made by `uv run expctl run experiments/quickstart.yaml`), it also prints
the network's test AUC on the same events, their difference and its 95% paired-bootstrap
interval (both scores on the same resampled events).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from expctl.data import prepare
from expctl.data.jets import log_likelihood_ratio
from expctl.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", type=Path, help="a quickstart run directory")
    parser.add_argument("--spec", type=Path, default=ROOT / "experiments/quickstart.yaml")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    spec_path = args.run / "spec.yaml" if args.run else args.spec
    loaded = load_spec(spec_path)
    data = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed)
    frame = pd.DataFrame(data.test.x.astype(np.float64), columns=data.feature_names)
    llr = log_likelihood_ratio(frame)
    y = np.asarray(data.test.y)
    ceiling = roc_auc_score(y, llr)
    print(f"{spec_path}: {len(y):,} test events")
    print(f"likelihood ratio (exact) test AUC {ceiling:.4f}")
    if args.run is None:
        return

    with np.load(args.run / "predictions.npz", allow_pickle=False) as npz:
        y_run, score = npz["y_true"], npz["y_score"]
    if not np.array_equal(y_run, y):
        raise SystemExit("error: the run's test events are not the spec's test split")
    auc = roc_auc_score(y, score)
    recorded = json.loads((args.run / "metrics.json").read_text())["auc"]
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(args.bootstrap):
        pick = rng.integers(0, len(y), len(y))
        gains.append(roc_auc_score(y[pick], score[pick]) - roc_auc_score(y[pick], llr[pick]))
    low, high = np.quantile(gains, [0.025, 0.975])
    print(f"network (the run) test AUC {auc:.4f} (metrics.json: {recorded:.4f})")
    print(
        f"network - ratio {auc - ceiling:+.4f}, 95% paired bootstrap [{low:+.4f}, {high:+.4f}] "
        f"({args.bootstrap} resamples)"
    )


if __name__ == "__main__":
    main()
