"""Training speed: expctl vs the same model hand-written in Keras vs a naive `model.fit`.

    uv run python benchmarks/bench_training.py [--repeats 3] [--events 200000] [--epochs 3]

Per case, in one process and interleaved (so machine load hits all alike), median of repeats:
- expctl: `expctl.runner.run` on an npz file (fit time from history.csv's epoch times);
- hand-written: the same layers, optimizer, loss, metrics, batch size and steps_per_execution,
  written as the Keras guides do, `model.fit` on arrays (what expctl should cost nothing over);
- naive: the same model with `model.fit` defaults (steps_per_execution=1), as most scripts do
  (what expctl's defaults should beat).
Reports samples/s of fitting, the ratios, and GFLOP/s (≈ 6 x parameters x samples/s: forward and
backward) against the float32 (and bfloat16) matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def matmul_peak(dtype: str, n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of an n x n matmul in `dtype` (best of `repeats`)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)

    @tf.function
    def mm(x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, x)

    mm(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        mm(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def make_data(folder: Path, events: int, features: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(events, features)).astype(np.float32)
    w = rng.normal(size=features)
    y = (x @ w + 0.5 * rng.normal(size=events) > 0).astype(np.int64)
    path = folder / f"data_{features}.npz"
    np.savez(path, x=x, y=y)
    return path


def expctl_spec(path: Path, hidden: list[int], batch: int, epochs: int, precision: str) -> dict:
    return {
        "name": "bench",
        "seed": 1,
        "data": {
            "source": "npz",
            "path": str(path),
            "split": {"train": 0.8, "val": 0.1, "test": 0.1},
        },
        "model": {"type": "mlp", "hidden": hidden},
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 1e-3},
            "batch_size": batch,
            "epochs": epochs,
            "precision": precision,
        },
    }


def run_expctl(spec: dict, out: Path) -> float:
    """Seconds spent fitting (sum of epoch times), from the run's history.csv."""
    import pandas as pd

    from expctl.runner import run
    from expctl.spec import LoadedSpec, spec_from_dict

    outcome = run(LoadedSpec(spec_from_dict(spec), "<bench>", out), out)
    return float(pd.read_csv(outcome.run_dir / "history.csv")["epoch_time_s"].sum())


def run_keras(
    path: Path, hidden: list[int], batch: int, epochs: int, precision: str, naive: bool
) -> float:
    """The same job hand-written: split, standardise (Normalization), fit; seconds fitting."""
    import keras

    from expctl.training.fit import steps_per_execution

    with np.load(path) as npz:
        x, y = npz["x"], npz["y"]
    n_train = int(0.8 * len(x))
    x_train, y_train = x[:n_train], y[:n_train]
    x_val, y_val = x[n_train : n_train + len(x) // 10], y[n_train : n_train + len(x) // 10]
    keras.utils.set_random_seed(1)
    keras.config.set_dtype_policy(precision)
    try:
        inputs = keras.Input((x.shape[1],))
        h = keras.layers.Normalization(
            mean=x_train.mean(0), variance=x_train.var(0), dtype="float32"
        )(inputs)
        for units in hidden:
            h = keras.layers.Dense(units, activation="relu")(h)
        out = keras.layers.Dense(1, activation="sigmoid", dtype="float32")(h)
        model = keras.Model(inputs, out)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
        steps_per_execution=1 if naive else steps_per_execution(len(x_train), batch),
    )
    start = time.perf_counter()
    model.fit(
        x_train, y_train, batch_size=batch, epochs=epochs, validation_data=(x_val, y_val), verbose=0
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from expctl.runner import _configure_keras

    _configure_keras(1)
    peak32 = matmul_peak("float32")
    peak16 = matmul_peak("bfloat16")
    cases = [
        ("small MLP 16→64×3→1, batch 256", 16, [64, 64, 64], 256, "float32"),
        ("large MLP 16→512×3→1, batch 1024", 16, [512, 512, 512], 1024, "float32"),
        ("large MLP, mixed_bfloat16", 16, [512, 512, 512], 1024, "mixed_bfloat16"),
    ]
    n_train = int(0.8 * args.events)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for title, features, hidden, batch, precision in cases:
            path = make_data(folder, args.events, features)
            params = sum(a * b + b for a, b in zip([features, *hidden], [*hidden, 1], strict=True))
            spec = expctl_spec(path, hidden, batch, args.epochs, precision)
            keras_args = (path, hidden, batch, args.epochs, precision)
            runners: dict[str, Callable[[], float]] = {
                "expctl": functools.partial(run_expctl, spec, folder / "out"),
                "hand-written": functools.partial(run_keras, *keras_args, naive=False),
                "naive fit": functools.partial(run_keras, *keras_args, naive=True),
            }
            for fn in runners.values():  # warm-up: first traces and allocations
                fn()
            times: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(args.repeats):
                for name, fn in runners.items():
                    times[name].append(fn())
            med = {name: statistics.median(t) for name, t in times.items()}
            for name in runners:
                rate = n_train * args.epochs / med[name]
                gflops = 6 * params * rate / 1e9
                peak = peak16 if precision != "float32" else peak32
                rows.append(
                    (
                        title,
                        name,
                        f"{rate:,.0f}",
                        f"{med[name]:.2f}",
                        f"{med[name] / med['hand-written']:.3f}",
                        f"{med['naive fit'] / med[name]:.2f}",
                        f"{gflops:.0f} ({gflops / peak:.0%})",
                    )
                )
    print(f"matmul peak here: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")
    print(f"{n_train:,} training events x {args.epochs} epochs, median of {args.repeats}\n")
    print(
        "| case | trainer | samples/s | fit s | ÷ hand-written | naive ÷ this | GFLOP/s (of peak) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
