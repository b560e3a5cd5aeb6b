"""Wall time of `expctl biasvar` sequential vs --workers 2 (median of repeats), as markdown.

    uv run python benchmarks/bench_biasvar.py [--repeats 3] [--members 6]

Each measurement is a fresh `expctl biasvar` process (TensorFlow start-up included, as a user
sees it) on a small polynomial spec; runs alternate between the two modes so that load from
other processes on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
name: bench
seed: 1
data:
  source: polynomial
  coefficients: [0.5, 0.0, 2.0]
  sigma: 0.3
  n_samples: 2000
  split: {train: 0.05, val: 0.0, test: 0.95}
model: {type: polynomial, degree: 4}
train:
  optimizer: {name: adam, learning_rate: 0.05}
  schedule: {name: cosine}
  batch_size: 20
  epochs: 20
"""


def once(spec: Path, out: Path, members: int, workers: int) -> float:
    cmd = [sys.executable, "-m", "expctl", "biasvar", str(spec), "-q"]
    cmd += ["--members", str(members), "--workers", str(workers), "--output-dir", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(SPEC)
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for workers in (1, 2):
                times[workers].append(once(spec, Path(tmp) / "out", args.members, workers))
    seq, par = statistics.median(times[1]), statistics.median(times[2])
    print(f"{args.members} members, {args.repeats} repeats, {os.cpu_count()} cores\n")
    print("| mode | wall time (median) | all runs |")
    print("|---|---|---|")
    for workers, label in ((1, "sequential"), (2, "--workers 2")):
        runs = ", ".join(f"{t:.1f}" for t in times[workers])
        print(f"| {label} | {statistics.median(times[workers]):.1f} s | {runs} |")
    print(f"\nratio (--workers 2 / sequential): **{par / seq:.2f}**")


if __name__ == "__main__":
    main()
