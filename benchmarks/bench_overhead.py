"""Whole-process overhead: `expctl run` vs the same job written by hand (benchmarks/handwritten.py).

    uv run python benchmarks/bench_overhead.py [--repeats 5] [--events 300000] [--epochs 15]
        [--tree DIR ...] [--data-dir DIR] [--skip-naive] [--skip-main]

Both are started as fresh processes on the same CSV, interleaved (expctl, hand-written, expctl, ...)
so machine load hits both alike; wall time covers everything each process does: start-up, reading
the CSV, training, predicting, and writing its outputs (expctl: the whole run directory with plots,
report, checkpoints and TensorBoard events; the script: model, history, predictions, AUC).
Prints the median wall times, their ratio (issue 8 asks for <= 1.03), and the test AUCs.
A third process, "hand-written, expctl's settings", is the script with expctl's automatic
`steps_per_execution`, its prediction batch (`expctl.training.predict.PREDICT_BATCH`) and its
per-epoch AUC metric (`expctl.models.build.AUC_THRESHOLDS` thresholds, Keras' default 200): the
ratio to it is what expctl's bookkeeping (plots, report, checkpoints, TensorBoard, digests, the
overtraining test) costs on top of the same training and prediction (issue 15 asks <= 1.03, at
300k and at 4M events alike). `--tree DIR` adds `expctl run` from another source tree (e.g. a
`git archive` of an older commit), interleaved with the others, for before/after comparisons;
`--data-dir` keeps the generated CSV between invocations; `--skip-naive` leaves out the script
with Keras' defaults (the slowest process at millions of events), `--skip-main` this tree's
expctl (only the `--tree` ones run). The load average is printed
before and after: compare ratios measured under similar load. The CPU time (user + system, all
threads) is printed too: on a busy machine it moves less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """The process's wall time and its CPU time (user + system, all its threads)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", default="64,64,64")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-main", action="store_true", help="only the --tree expctl runs")
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    os.environ.update(env)
    from expctl.models.build import AUC_THRESHOLDS
    from expctl.training.fit import steps_per_execution
    from expctl.training.predict import PREDICT_BATCH

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_dir = args.data_dir or folder
        data_dir.mkdir(parents=True, exist_ok=True)
        data = data_dir / f"overhead-{args.events}.csv"
        if not data.is_file():
            make_csv(data.with_suffix(".tmp"), args.events)
            data.with_suffix(".tmp").rename(data)
        spec = folder / "spec.yaml"
        write_spec(spec, data, hidden, args.batch, args.epochs)
        expctl = [sys.executable, "-m", "expctl", "run", str(spec), "-q"]
        script = [sys.executable, str(HERE / "handwritten.py"), str(data)]
        script_opts = ["--epochs", str(args.epochs), "--hidden", args.hidden]
        script_opts += ["--batch", str(args.batch)]
        same = [
            "--steps-per-execution",
            str(steps_per_execution(int(0.6 * args.events), args.batch)),
            "--predict-batch",
            str(PREDICT_BATCH),
            "--auc-thresholds",
            str(AUC_THRESHOLDS),
        ]
        # (name, command without the output folder, env, reads metrics.json from a run dir)
        processes: list[tuple[str, list[str], dict[str, str], bool]] = []
        if not args.skip_main:
            processes.append(("expctl", expctl, env, True))
        for tree in args.tree:
            tree_env = {**env, "PYTHONPATH": str(tree.resolve())}
            processes.append((f"expctl ({tree.name})", expctl, tree_env, True))
        if not args.skip_naive:
            processes.append(("hand-written", [*script, "{out}", *script_opts], env, False))
        same_name = "hand-written, expctl's settings"
        processes.append((same_name, [*script, "{out}", *script_opts, *same], env, False))
        names = [p[0] for p in processes]
        times: dict[str, list[float]] = {k: [] for k in names}
        cpus: dict[str, list[float]] = {k: [] for k in names}
        aucs: dict[str, list[float]] = {k: [] for k in names}
        load_before = load()
        for i in range(args.repeats):
            for j, (name, cmd, penv, is_expctl) in enumerate(processes):
                out = folder / f"p{j}-{i}"
                if is_expctl:
                    wall, cpu = timed([*cmd, "--output-dir", str(out)], penv)
                    (run,) = [p for p in out.iterdir() if p.is_dir()]
                    metrics = run / "metrics.json"
                else:
                    wall, cpu = timed([c.replace("{out}", str(out)) for c in cmd], penv)
                    metrics = out / "metrics.json"
                times[name].append(wall)
                cpus[name].append(cpu)
                aucs[name].append(json.loads(metrics.read_text())["auc"])
            print(
                f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
                file=sys.stderr,
            )
        load_after = load()
    med = {k: statistics.median(v) for k, v in times.items()}
    cores = len(os.sched_getaffinity(0))
    print(
        f"{int(0.6 * args.events):,} training events, MLP 16→{args.hidden}→1, batch {args.batch}, "
        f"{args.epochs} epochs, {cores} core(s), median of {args.repeats} interleaved repeats; "
        f"load average (1, 5, 15 min) {load_before} before, {load_after} after\n"
    )
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print("| process | wall s (median) | all repeats | CPU s (median) | test AUC (median) |")
    print("|---|---|---|---|---|")
    for name in times:
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        auc = statistics.median(aucs[name])
        print(f"| {name} | {med[name]:.2f} | {runs} | {cpu[name]:.1f} | {auc:.4f} |")
    print()
    for name in names:
        if not name.startswith("expctl"):
            continue
        if "hand-written" in med:
            print(f"{name} ÷ hand-written: **{med[name] / med['hand-written']:.3f}**")
        print(
            f"{name} ÷ hand-written with expctl's settings: **{med[name] / med[same_name]:.3f}** "
            f"(CPU time: {cpu[name] / cpu[same_name]:.3f})"
        )


if __name__ == "__main__":
    main()
