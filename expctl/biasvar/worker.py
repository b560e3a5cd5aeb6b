"""Train one member of a bias/variance ensemble: a normal run on a resample of the training split.

This module is what worker processes import; it touches TensorFlow only inside functions, after
`init_worker` has capped TensorFlow's thread pools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

#: Stream of the bootstrap draws, apart from every other use of the seeds.
_BOOTSTRAP_STREAM = 0xB007


@dataclass(frozen=True)
class MemberTask:
    """Everything a (possibly remote) worker needs to train member `member` of point `point`."""

    spec: dict[str, Any]  # the member's resolved spec (its own seed, the data seed pinned)
    source: str
    base_dir: str
    members_dir: str
    point: int
    member: int
    train_fraction: float
    bootstrap_seed: int
    resample: str = "bootstrap"  # or "fresh": a new training set from the source's generator


@dataclass(frozen=True)
class MemberResult:
    point: int
    member: int
    status: str
    run_dir: str | None
    error: str | None = None
    metrics: dict[str, Any] | None = None
    y_test: np.ndarray | None = None
    score_test: np.ndarray | None = None
    y_train: np.ndarray | None = None
    score_train: np.ndarray | None = None
    w_train: np.ndarray | None = None
    n_train: int = 0


def bootstrap_indices(n: int, fraction: float, seed: int, member: int) -> np.ndarray:
    """round(fraction·n) (at least 1) indices drawn with replacement from 0..n-1, sorted.

    Seeded by (seed, member) only, so member k draws the same resample at every scan value
    (common random numbers: the capacity curves differ by the capacity, not by the draws).
    """
    rng = np.random.default_rng([seed, member, _BOOTSTRAP_STREAM])
    m = max(1, round(fraction * n))
    return np.sort(rng.integers(0, n, m))


def init_worker(threads: int) -> None:
    """Cap TensorFlow's thread pools to `threads` before it starts (workers split the cores)."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from expctl.runner import native_stderr_silenced

    # TensorFlow's C++ start-up lines ignore the log level; `run` hides them the same way
    with native_stderr_silenced(os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0"):
        import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _predict_on_train_end(store: dict[str, Any]) -> Any:
    """A Keras callback keeping the final model's predictions on the training split it saw."""
    import keras

    class TrainPredictions(keras.callbacks.Callback):
        def on_train_end(self, logs: Any = None) -> None:
            # runs after EarlyStopping's on_train_end, so these are the restored best weights
            out = np.asarray(self.model.predict(store["x"], batch_size=8192, verbose=0))
            store["score"] = out[:, 0] if out.shape[1] == 1 else out

    return TrainPredictions()


def train_member(task: MemberTask) -> MemberResult:
    """Run the member's spec on its resample; a failed or diverged run is reported, not raised."""
    import logging

    from expctl.data import Split
    from expctl.errors import RunFailedError
    from expctl.runner import RunHooks, configure_keras, run
    from expctl.runs import RunView
    from expctl.spec import LoadedSpec, spec_from_dict

    spec = spec_from_dict(task.spec, task.source)
    # TensorFlow is imported here, before the callback below needs Keras: quietly, as `run` would
    configure_keras(spec.seed)
    # each member builds a new model, so Keras retraces its predict function: expected, not news
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    loaded = LoadedSpec(spec=spec, source=task.source, base_dir=Path(task.base_dir))
    seen: dict[str, Any] = {}

    def resample(dataset: Any) -> Any:
        train = dataset.train
        if task.resample == "fresh":
            from expctl.data.polynomial import GENERATORS

            data_seed = spec.data.seed if spec.data.seed is not None else spec.seed
            n = max(1, round(task.train_fraction * len(train)))
            x, y = GENERATORS[spec.data.source](spec.data, data_seed, task.member, n)
            drawn = Split(x.astype(train.x.dtype), y.astype(train.y.dtype), None)
            if dataset.mean is not None:
                # this draw is the member's training split: standardise with its own statistics
                std = x.std(axis=0)
                dataset = replace(dataset, mean=x.mean(axis=0), std=np.where(std > 0, std, 1.0))
        else:
            index = bootstrap_indices(
                len(train), task.train_fraction, task.bootstrap_seed, task.member
            )
            drawn = Split(
                train.x[index], train.y[index], None if train.w is None else train.w[index]
            )
        seen.update(x=drawn.x, y=drawn.y, w=drawn.w)
        return replace(dataset, train=drawn)

    hooks = RunHooks(dataset=resample, callbacks=[_predict_on_train_end(seen)])
    try:
        outcome = run(loaded, Path(task.members_dir), hooks=hooks)
    except RunFailedError as exc:
        return MemberResult(task.point, task.member, "failed", None, error=exc.message)
    arrays = RunView(outcome.run_dir).prediction_arrays()
    y_test, score_test = arrays["y_true"], arrays["y_score"]
    return MemberResult(
        point=task.point,
        member=task.member,
        status=outcome.status,
        run_dir=str(outcome.run_dir),
        metrics=outcome.metrics,
        y_test=y_test,
        score_test=score_test,
        y_train=seen["y"],
        score_train=seen.get("score"),
        w_train=seen["w"],
        n_train=len(seen["y"]),
    )
