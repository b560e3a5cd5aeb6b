"""Benchmark `expctl compare` over 1,000 synthetic run directories (and `expctl --help`).

    .venv/bin/python benchmarks/bench_compare.py [--runs 1000] [--repeats 5] [--keep DIR]

Writes realistic run directories (resolved spec.yaml, status.json, metrics.json, history.csv,
data.json, environment.json) with about ten spec keys that vary, runs each command as a fresh
subprocess (`python -m expctl ...`) `--repeats` times after one warm-up, and prints the median
wall times as a markdown table. The goal for `compare` over 1,000 runs is 1.5 s or less.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 1.5

#: Used when `compare` is not (yet) in expctl.cli.COMMANDS: the same entry point, registered here.
LAUNCHER = (
    "import sys\n"
    "from expctl.cli import COMMANDS, main\n"
    "COMMANDS.setdefault('compare', ('expctl.cli.compare', 'compare'))\n"
    "sys.argv[0] = 'expctl'\n"
    "main()\n"
)

#: The spec keys that vary between runs (seed included), and their choices.
VARIED: dict[str, list[Any]] = {
    "model.hidden": [[64, 64], [128, 64], [32]],
    "model.activation": ["relu", "gelu"],
    "model.dropout": [0.0, 0.1, 0.2, 0.3],
    "model.l2": [0.0, 1.0e-4, 1.0e-3],
    "model.initializer.name": ["glorot_uniform", "he_normal"],
    "train.optimizer.name": ["adam", "sgd"],
    "train.optimizer.learning_rate": [1.0e-3, 3.0e-3, 1.0e-2],
    "train.batch_size": [128, 256],
    "train.epochs": [20, 30],
}
N_SEEDS = 5


def base_spec() -> dict[str, Any]:
    """A resolved spec as `expctl run` writes it (quickstart, every default filled in)."""
    return {
        "name": "sweep",
        "seed": 0,
        "data": {
            "source": "jets",
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
            "task": "auto",
            "standardize": True,
            "seed": None,
            "n_samples": 20000,
            "signal_fraction": 0.5,
            "target": "label",
            "features": None,
        },
        "model": {
            "type": "mlp",
            "hidden": [64, 64],
            "activation": "relu",
            "dropout": 0.2,
            "l1": 0.0,
            "l2": 1.0e-4,
            "initializer": {"name": "glorot_uniform", "scale": 1.0},
        },
        "train": {
            "optimizer": {
                "name": "adam",
                "learning_rate": 1.0e-3,
                "clipnorm": None,
                "clipvalue": None,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1.0e-7,
                "amsgrad": False,
            },
            "batch_size": 256,
            "epochs": 30,
            "early_stopping": {
                "monitor": "val_loss",
                "patience": 5,
                "min_delta": 1.0e-4,
                "restore_best": True,
                "mode": "auto",
            },
            "shuffle": True,
        },
        "evaluate": {"threshold": 0.5},
    }


def _set(spec: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = spec
    for part in parents:
        node = node[part]
    node[last] = value


def write_runs(folder: Path, n_runs: int, rng: random.Random) -> None:
    """`n_runs` run directories: n_runs / N_SEEDS configurations, N_SEEDS seeds each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_runs):
        if i % N_SEEDS == 0:
            config = {key: rng.choice(choices) for key, choices in VARIED.items()}
        spec = base_spec()
        for key, value in config.items():
            _set(spec, key, value)
        spec["seed"] = i % N_SEEDS
        run_id = f"20260101-{i // 60:04d}{i % 60:02d}-sweep-{i:06x}"
        path = folder / run_id
        (path / "plots").mkdir(parents=True)
        (path / "spec.yaml").write_text(
            yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=120)
        )
        epochs = int(config["train.epochs"])
        best = rng.randint(epochs // 2, epochs)
        stopped = min(best + 5, epochs) if best + 5 < epochs else None
        trained = stopped or epochs
        training = {
            "epochs_trained": trained,
            "best_epoch": best,
            "stopped_epoch": stopped,
            "restored_best": True,
        }
        status = {
            "status": "completed",
            "run_id": run_id,
            "name": "sweep",
            "started_at": "2026-01-01T00:00:00+00:00",
            "ended_at": "2026-01-01T00:01:00+00:00",
            "duration_s": round(rng.uniform(20, 90), 3),
            "error": None,
            "pid": 1000 + i,
            "host": "bench",
            "expctl_version": "0.1.0",
            "training": training,
        }
        (path / "status.json").write_text(json.dumps(status, indent=2) + "\n")
        auc = rng.uniform(0.86, 0.9)
        metrics = {
            "loss": rng.uniform(0.38, 0.45),
            "accuracy": auc - 0.09,
            "auc": auc,
            "precision": rng.uniform(0.78, 0.82),
            "recall": rng.uniform(0.76, 0.82),
            "sensitivity": rng.uniform(0.76, 0.82),
            "specificity": rng.uniform(0.78, 0.84),
            "f1": rng.uniform(0.78, 0.81),
            "brier": rng.uniform(0.12, 0.14),
            "n": 4000.0,
            "threshold": 0.5,
            **training,
        }
        (path / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        lines = ["epoch,accuracy,auc,loss,val_accuracy,val_auc,val_loss,learning_rate,epoch_time_s"]
        for e in range(1, trained + 1):
            loss = 0.6 / e**0.3
            lines.append(
                f"{e},{0.7 + 0.1 * (1 - 1 / e)},{0.8 + 0.09 * (1 - 1 / e)},{loss},"
                f"{0.72 + 0.08 * (1 - 1 / e)},{0.81 + 0.08 * (1 - 1 / e)},{loss * 1.02},"
                f"0.0010000000474974513,{rng.uniform(0.1, 0.3)}"
            )
        (path / "history.csv").write_text("\n".join(lines) + "\n")
        (path / "data.json").write_text(
            json.dumps({"task": "binary", "n_train": 12000, "n_val": 4000, "n_test": 4000})
        )
        (path / "environment.json").write_text(
            json.dumps({"python": "3.12", "tensorflow": "2.18", "keras": "3.8"})
        )


def command_prefix() -> tuple[list[str], str]:
    """How to start expctl: `python -m expctl`, or the launcher if compare is not registered."""
    from expctl.cli import COMMANDS

    if "compare" in COMMANDS:
        return [sys.executable, "-m", "expctl"], "python -m expctl"
    return [sys.executable, "-c", LAUNCHER], "python -c <launcher registering compare>"


def time_command(argv: list[str], repeats: int) -> list[float]:
    """Wall times of `repeats` runs of `argv` (after one warm-up run); fails on a non-zero exit."""
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Build the runs, time the commands, print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, help="Write the runs to this new folder and keep them."
    )
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists; give a new folder")

    prefix, how = command_prefix()
    with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp:
        folder = args.keep or Path(tmp) / "outputs"
        start = time.perf_counter()
        write_runs(folder, args.runs, random.Random(0))
        built = time.perf_counter() - start
        cases = [
            (f"compare DIR ({args.runs} runs, grouped table)", ["compare", str(folder)]),
            (
                f"compare DIR --no-group --format json ({args.runs} runs)",
                ["compare", str(folder), "--no-group", "--format", "json"],
            ),
            (
                f"compare DIR --sort auc --filter status=completed --format csv ({args.runs} runs)",
                [
                    "compare",
                    str(folder),
                    "--sort",
                    "auc",
                    "--filter",
                    "status=completed",
                    "--format",
                    "csv",
                ],
            ),
            ("--help", ["--help"]),
        ]
        rows = []
        for label, argv in cases:
            times = time_command([*prefix, *argv], args.repeats)
            rows.append((label, statistics.median(times), min(times), max(times)))
        check = subprocess.run(
            [*prefix, "compare", str(folder), "--format", "json"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        data = json.loads(check.stdout)

    print(
        f"{args.runs} run directories written in {built:.1f} s; "
        f"{len(data['differing_keys'])} differing keys "
        f"({', '.join(data['differing_keys'])}); {len(data['rows'])} groups; "
        f"command: {how}; Python {sys.version.split()[0]}; {args.repeats} repeats after a warm-up."
    )
    print()
    print("| command | median (s) | min (s) | max (s) |")
    print("|---|---:|---:|---:|")
    for label, median, low, high in rows:
        print(f"| `expctl {label}` | {median:.3f} | {low:.3f} | {high:.3f} |")
    main_median = rows[0][1]
    verdict = "meets" if main_median <= GOAL_S else "MISSES"
    print()
    print(f"`expctl compare DIR` median {main_median:.3f} s {verdict} the {GOAL_S} s goal.")


if __name__ == "__main__":
    main()
