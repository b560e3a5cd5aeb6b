"""Training speed: expctl vs the same model hand-written in Keras vs a naive `model.fit`.

    uv run python benchmarks/bench_training.py [--repeats 3] [--events 200000] [--epochs 3]
        [--images 20000]

Per case, in one process and interleaved (so machine load hits all alike), median of repeats:
- expctl: `expctl.runner.run` on an npz file (fit time from history.csv's epoch times);
- hand-written: the same layers, optimizer, loss, metrics, batch size and steps_per_execution,
  written as the Keras guides do, `model.fit` on the arrays expctl prepared (same split and
  standardisation; what expctl should cost nothing over);
- naive: the same model with `model.fit` defaults (steps_per_execution=1), as most scripts do
  (what expctl's defaults should beat).
Cases: small MLP, large MLP (float32 and mixed_bfloat16), a CNN on the built-in jet images.
Reports samples/s of fitting, the ratios, the test AUCs, and for MLPs GFLOP/s (≈ 6 x parameters x samples/s: forward and
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
from typing import Any

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


def mlp_spec(path: Path, hidden: list[int], batch: int, epochs: int, precision: str) -> dict:
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


def cnn_spec(images: int, batch: int, epochs: int) -> dict:
    """A small CNN on the built-in 25x25 jet images (W vs QCD): two conv blocks, one dense layer."""
    return {
        "name": "bench-cnn",
        "seed": 1,
        "data": {
            "source": "jet_images",
            "n_samples": images,
            "split": {"train": 0.8, "val": 0.1, "test": 0.1},
        },
        "model": {
            "type": "cnn",
            "conv": [
                {"filters": 16, "kernel_size": 3, "padding": "same", "pool": 2},
                {"filters": 32, "kernel_size": 3, "padding": "same", "pool": 2},
            ],
            "hidden": [64],
        },
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 1e-3},
            "batch_size": batch,
            "epochs": epochs,
        },
    }


def run_expctl(spec: dict, out: Path) -> tuple[float, float]:
    """Seconds spent fitting (sum of epoch times, from history.csv) and the test AUC."""
    import pandas as pd

    from expctl.runner import run
    from expctl.spec import LoadedSpec, spec_from_dict

    outcome = run(LoadedSpec(spec_from_dict(spec), "<bench>", out), out)
    fit = float(pd.read_csv(outcome.run_dir / "history.csv")["epoch_time_s"].sum())
    return fit, float(outcome.metrics["auc"])


def prepared(spec: dict) -> Any:
    """The same arrays expctl trains on (its split), for the hand-written scripts."""
    from expctl.data import prepare
    from expctl.spec import spec_from_dict

    parsed = spec_from_dict(spec)
    return prepare(parsed.data, Path.cwd(), parsed.seed)


def run_keras(spec: dict, dataset: Any, naive: bool) -> tuple[float, float]:
    """The same model written by hand, `model.fit` on arrays; seconds fitting and the test AUC.

    `naive`: Keras' defaults (steps_per_execution=1), as most scripts are written; otherwise
    expctl's steps_per_execution, i.e. identical settings (what expctl must cost nothing over).
    """
    import keras
    from sklearn.metrics import roc_auc_score

    from expctl.training.fit import steps_per_execution

    model_spec, train_spec = spec["model"], spec["train"]
    precision = train_spec.get("precision", "float32")
    x_train, y_train = dataset.train.x.astype(np.float32), dataset.train.y
    keras.utils.set_random_seed(1)
    keras.config.set_dtype_policy(precision)
    try:
        inputs = keras.Input(x_train.shape[1:])
        h = keras.layers.Normalization(mean=dataset.mean, variance=dataset.std**2, dtype="float32")(
            inputs
        )
        for conv in model_spec.get("conv", []):
            h = keras.layers.Conv2D(
                conv["filters"], conv["kernel_size"], padding="same", activation="relu"
            )(h)
            h = keras.layers.MaxPooling2D(conv["pool"])(h)
        if model_spec.get("conv"):
            h = keras.layers.Flatten()(h)
        for units in model_spec["hidden"]:
            h = keras.layers.Dense(units, activation="relu")(h)
        out = keras.layers.Dense(1, activation="sigmoid", dtype="float32")(h)
        model = keras.Model(inputs, out)
    finally:
        keras.config.set_dtype_policy("float32")
    batch = train_spec["batch_size"]
    model.compile(
        optimizer=keras.optimizers.Adam(train_spec["optimizer"]["learning_rate"]),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
        steps_per_execution=1 if naive else steps_per_execution(len(x_train), batch),
        jit_compile=train_spec.get("jit_compile", False),
    )
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=batch,
        epochs=train_spec["epochs"],
        validation_data=(dataset.val.x.astype(np.float32), dataset.val.y),
        verbose=0,
    )
    fit = time.perf_counter() - start
    score = model.predict(dataset.test.x.astype(np.float32), batch_size=8192, verbose=0).ravel()
    return fit, float(roc_auc_score(dataset.test.y, score))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose title has TEXT")
    args = parser.parse_args()

    from expctl.runner import configure_keras

    configure_keras(1)
    peak32 = matmul_peak("float32")
    peak16 = matmul_peak("bfloat16")
    cases = [
        ("small MLP 16→64×3→1, batch 256", [64, 64, 64], 256, "float32"),
        ("large MLP 16→512×3→1, batch 1024", [512, 512, 512], 1024, "float32"),
        ("large MLP, mixed_bfloat16", [512, 512, 512], 1024, "mixed_bfloat16"),
        ("large MLP, float32 + jit_compile", [512, 512, 512], 1024, "float32+jit"),
        ("large MLP, mixed_bfloat16 + jit_compile", [512, 512, 512], 1024, "mixed_bfloat16+jit"),
        ("CNN on 25×25 jet images, batch 128", None, 128, "float32"),
    ]
    cases = [c for c in cases if args.only is None or args.only in c[0]]
    n_train = int(0.8 * args.events)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = make_data(folder, args.events, 16)
        for title, hidden, batch, setting in cases:
            precision, jit = setting.removesuffix("+jit"), setting.endswith("+jit")
            if hidden is None:
                spec = cnn_spec(args.images, batch, args.epochs)
                flops = None  # convolutions: no simple 6 x parameters count
            else:
                spec = mlp_spec(path, hidden, batch, args.epochs, precision)
                spec["train"]["jit_compile"] = jit
                params = sum(a * b + b for a, b in zip([16, *hidden], [*hidden, 1], strict=True))
                flops = 6 * params
            dataset = prepared(spec)
            n_train = len(dataset.train)
            runners: dict[str, Callable[[], tuple[float, float]]] = {
                "expctl": functools.partial(run_expctl, spec, folder / "out"),
                "hand-written": functools.partial(run_keras, spec, dataset, naive=False),
                "naive fit": functools.partial(run_keras, spec, dataset, naive=True),
            }
            for fn in runners.values():  # warm-up: first traces and allocations
                fn()
            times: dict[str, list[float]] = {name: [] for name in runners}
            aucs: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(args.repeats):
                for name, fn in runners.items():
                    fit, auc = fn()
                    times[name].append(fit)
                    aucs[name].append(auc)
            med = {name: statistics.median(t) for name, t in times.items()}
            for name in runners:
                rate = n_train * args.epochs / med[name]
                peak = peak16 if precision != "float32" else peak32
                achieved = (
                    "–"
                    if flops is None
                    else (f"{flops * rate / 1e9:.0f} ({flops * rate / 1e9 / peak:.0%})")
                )
                rows.append(
                    (
                        title,
                        name,
                        f"{rate:,.0f}",
                        f"{med[name]:.2f}",
                        f"{med[name] / med['hand-written']:.3f}",
                        f"{med['naive fit'] / med[name]:.2f}",
                        f"{statistics.median(aucs[name]):.4f}",
                        achieved,
                    )
                )
    print(f"matmul peak here: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")
    cores = len(os.sched_getaffinity(0))
    print(
        f"MLPs: {int(0.8 * args.events):,} training events; CNN: {int(0.8 * args.images):,} "
        f"images; {args.epochs} epochs; {cores} core(s); median of {args.repeats}\n"
    )
    print(
        "| case | trainer | samples/s | fit s | ÷ hand-written | naive ÷ this | test AUC "
        "| GFLOP/s (of peak) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
