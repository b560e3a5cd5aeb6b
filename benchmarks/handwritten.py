"""The job of `expctl run` written by hand, the way the Keras guides write it.

    python benchmarks/handwritten.py DATA.csv OUT_DIR --epochs 15 [--hidden 64,64,64] [--batch 256]
        [--steps-per-execution 1] [--predict-batch BATCH] [--auc-thresholds 200]

Reads the CSV (features, then a `label` column), splits 60/20/20, standardises with the training
split's mean and standard deviation, builds the MLP, `model.fit` on arrays with the defaults,
predicts the test split, and saves the model, the history and the test AUC. This is the baseline
of benchmarks/bench_overhead.py: expctl should cost nothing over it. `--steps-per-execution` and
`--predict-batch` (default: the training batch, as most scripts predict) and `--auc-thresholds`
(of the per-epoch AUC metric; default Keras' 200) let it use expctl's settings.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", default="64,64,64")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--predict-batch", type=int, default=None)
    parser.add_argument("--auc-thresholds", type=int, default=200)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)

    df = pd.read_csv(args.data)
    x = df.drop(columns="label").to_numpy(np.float32)
    y = df["label"].to_numpy(np.float32)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, train_size=0.6, random_state=args.seed
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=args.seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))

    model = keras.Sequential([keras.Input((x.shape[1],))])
    for units in map(int, args.hidden.split(",")):
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc", num_thresholds=args.auc_thresholds)],
        steps_per_execution=args.steps_per_execution,
    )
    history = model.fit(
        x_train, y_train, batch_size=args.batch, epochs=args.epochs, validation_data=(x_val, y_val)
    )
    score = model.predict(x_test, batch_size=args.predict_batch or args.batch, verbose=0).ravel()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    pd.DataFrame(history.history).to_csv(out / "history.csv", index_label="epoch")
    np.savez(out / "predictions.npz", y_true=y_test, y_score=score)
    (out / "metrics.json").write_text(json.dumps({"auc": roc_auc_score(y_test, score)}))
    print(f"test AUC {roc_auc_score(y_test, score):.4f}")


if __name__ == "__main__":
    main()
