"""View latency: `expctl --help` and `expctl roc` on a run with 1,000,000 test predictions.

Run with:  uv run python benchmarks/bench_roc.py [--repeats 5]
Prints a markdown table of median wall times (whole processes, as a user runs them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOALS = {
    "expctl --help": 0.3,
    "expctl roc (1M predictions)": 2.0,
    "expctl roc --hep --working-points": 2.0,
}


def make_run(root: Path, n: int = 1_000_000, seed: int = 0) -> Path:
    """A synthetic completed run directory whose test split has `n` binary predictions."""
    run = root / "20260101-000000-bench-000000"
    (run / "plots").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (2 * y - 1))))
    np.savez_compressed(
        run / "predictions.npz", y_true=y, y_score=score, classes=np.array(["0", "1"])
    )
    (run / "status.json").write_text('{"status": "completed"}\n')
    (run / "spec.yaml").write_text("name: bench\n")
    return run


def median_time(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    expctl = [sys.executable, "-m", "expctl"]
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp))
        cases = {
            "expctl --help": [*expctl, "--help"],
            "expctl roc (1M predictions)": [*expctl, "roc", str(run)],
            "expctl roc --hep --working-points": [
                *expctl,
                "roc",
                str(run),
                "--hep",
                "--working-points",
                "0.5,0.7,0.9",
            ],
        }
        baseline = median_time([sys.executable, "-c", "pass"], args.repeats)
        print("| command | median wall time (s) | goal (s) | ratio to goal |\n|---|---|---|---|")
        print(f"| python -c pass (interpreter start) | {baseline:.3f} | | |")
        for name, cmd in cases.items():
            t = median_time(cmd, args.repeats)
            print(f"| {name} | {t:.3f} | {GOALS[name]} | {t / GOALS[name]:.2f} |")


if __name__ == "__main__":
    main()
