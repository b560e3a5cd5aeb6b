"""Whole-process overhead: `expctl run` vs the same job written by hand (benchmarks/handwritten.py).

    uv run python benchmarks/bench_overhead.py [--repeats 5] [--events 300000] [--epochs 15]

Both are started as fresh processes on the same CSV, interleaved (expctl, hand-written, expctl, ...)
so machine load hits both alike; wall time covers everything each process does: start-up, reading
the CSV, training, predicting, and writing its outputs (expctl: the whole run directory with plots,
report, checkpoints and TensorBoard events; the script: model, history, predictions, AUC).
Prints the median wall times, their ratio (issue 8 asks for <= 1.03), and the test AUCs.
A third process, "hand-written, expctl's settings", is the script with expctl's automatic
`steps_per_execution`: the ratio to it is what expctl's bookkeeping (plots, report, checkpoints,
TensorBoard, digests) costs on top of the same training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_csv(path: Path, events: int, features: int = 16, seed: int = 0) -> None:
    """Signal/background with a non-linear boundary, so the MLP has something to learn."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(events, features)).astype(np.float32)
    w = rng.normal(size=features)
    logit = (
        x @ w / np.sqrt(features) + np.sin(2 * x[:, 0]) * x[:, 1] + 0.5 * rng.normal(size=events)
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)])
    frame["label"] = (logit > 0).astype(np.int64)
    frame.to_csv(path, index=False)


def write_spec(path: Path, data: Path, hidden: list[int], batch: int, epochs: int) -> None:
    import yaml

    spec = {
        "name": "overhead",
        "seed": 1,
        "data": {
            "source": "csv",
            "path": str(data),
            "target": "label",
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
        },
        "model": {"type": "mlp", "hidden": hidden},
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 1e-3},
            "batch_size": batch,
            "epochs": epochs,
        },
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", default="64,64,64")
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    os.environ.update(env)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data.csv"
        make_csv(data, args.events)
        spec = folder / "spec.yaml"
        write_spec(spec, data, hidden, args.batch, args.epochs)
        expctl = [sys.executable, "-m", "expctl", "run", str(spec), "-q"]
        script = [sys.executable, str(HERE / "handwritten.py"), str(data)]
        script_opts = ["--epochs", str(args.epochs), "--hidden", args.hidden]
        script_opts += ["--batch", str(args.batch)]
        from expctl.training.fit import steps_per_execution

        same = [
            "--steps-per-execution",
            str(steps_per_execution(int(0.6 * args.events), args.batch)),
        ]
        names = ["expctl", "hand-written", "hand-written, expctl's settings"]
        times: dict[str, list[float]] = {k: [] for k in names}
        aucs: dict[str, list[float]] = {k: [] for k in names}
        for i in range(args.repeats):
            out = folder / f"expctl{i}"
            times["expctl"].append(timed([*expctl, "--output-dir", str(out)]))
            (run,) = [p for p in out.iterdir() if p.is_dir()]
            aucs["expctl"].append(json.loads((run / "metrics.json").read_text())["auc"])
            out = folder / f"script{i}"
            times["hand-written"].append(timed([*script, str(out), *script_opts]))
            aucs["hand-written"].append(json.loads((out / "metrics.json").read_text())["auc"])
            out = folder / f"same{i}"
            times[names[2]].append(timed([*script, str(out), *script_opts, *same]))
            aucs[names[2]].append(json.loads((out / "metrics.json").read_text())["auc"])
            print(
                f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
                file=sys.stderr,
            )
    med = {k: statistics.median(v) for k, v in times.items()}
    cores = len(os.sched_getaffinity(0))
    print(
        f"{int(0.6 * args.events):,} training events, MLP 16→{args.hidden}→1, batch {args.batch}, "
        f"{args.epochs} epochs, {cores} core(s), median of {args.repeats} interleaved repeats\n"
    )
    print("| process | wall s (median) | all repeats | test AUC (median) |")
    print("|---|---|---|---|")
    for name in times:
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        print(f"| {name} | {med[name]:.2f} | {runs} | {statistics.median(aucs[name]):.4f} |")
    print(f"\nexpctl ÷ hand-written: **{med['expctl'] / med['hand-written']:.3f}**")
    print(f"expctl ÷ hand-written with expctl's settings: {med['expctl'] / med[names[2]]:.3f}")


if __name__ == "__main__":
    main()
