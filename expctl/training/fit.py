"""Compile and fit a model as the spec's `train` section says; report how training ended."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expctl.models.build import HEADS
from expctl.training.optimizers import make_optimizer

if TYPE_CHECKING:
    from expctl.training.checkpoint import Resumed

#: Upper bound on batches run inside one compiled call; callbacks here are epoch-level only,
#: so grouping batches changes nothing but the Python overhead between them.
MAX_STEPS_PER_EXECUTION = 64


@dataclass(frozen=True)
class TrainResult:
    """How training ended. Epochs are 1-based; `best_epoch` is the epoch whose weights the model has
    when early stopping restored them, else the epoch with the lowest validation loss (for reference)."""

    rows: list[dict[str, float]]
    epochs_trained: int
    best_epoch: int | None
    stopped_epoch: int | None
    restored_best: bool
    diverged: bool
    divergence_reason: str
    #: sha256 of the weights after each epoch (1-based epoch i at index i-1), see weights_digest
    weights_sha256: list[str] = field(default_factory=list)


def steps_per_execution(n_train: int, batch_size: int) -> int:
    """Batches per compiled call: as many as fit in one epoch, at most MAX_STEPS_PER_EXECUTION."""
    steps = max(1, math.ceil(n_train / batch_size))
    return min(steps, MAX_STEPS_PER_EXECUTION)


def class_weights(
    value: str | dict[int, float] | None, y: Any, n_classes: int, counts: Any = None
) -> dict[int, float] | None:
    """Keras' class_weight from the spec: `balanced` is n / (K · n_k) on the training labels
    (scikit-learn's definition), from `y` or from the training split's class `counts`; a
    mapping gives its classes their weight and the others 1."""
    import numpy as np

    if value is None:
        return None
    if value == "balanced":
        if counts is None:
            counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)
        n = int(np.sum(counts))
        return {k: float(n / (n_classes * c)) if c else 1.0 for k, c in enumerate(counts)}
    unknown = [k for k in value if k >= n_classes]
    if unknown:
        raise ValueError(
            f"train.class_weight: class {unknown[0]} does not exist (classes 0..{n_classes - 1})"
        )
    return {k: float(value.get(k, 1.0)) for k in range(n_classes)}


def event_weights(split: Any, class_weight: dict[int, float] | None) -> Any:
    """Per-event training weights: the data's event weights times the class weights (None if neither).

    Keras refuses class_weight together with sample_weight, so both become one per-event weight.
    """
    import numpy as np

    if split.w is None and class_weight is None:
        return None
    w = np.ones(len(split.y)) if split.w is None else np.asarray(split.w, dtype=np.float64)
    if class_weight is not None:
        w = (
            w
            * np.array([class_weight[k] for k in range(len(class_weight))])[
                np.asarray(split.y, dtype=np.int64)
            ]
        )
    return w.astype(np.float32)


def _targets(split: Any) -> Any:
    """What `fit` takes as y: the targets by head name for a multitask model, else y."""
    return split.targets if split.targets is not None else split.y


def _losses(dataset: Any, label_smoothing: Any) -> tuple[Any, Any, Any]:
    """Loss, loss weights and metrics for `compile`: one each, or dicts by head name.

    `label_smoothing` is the spec's: a number (one fixed ε) or {sigma} (ε drawn per event).
    A regression head's weight is divided by its target's training variance: its mean squared
    error (in the target's units, as the output) then counts as a dimensionless fraction.
    """
    from expctl.models.regularizers import make_loss

    sigma = getattr(label_smoothing, "sigma", 0.0)
    fixed = 0.0 if sigma else label_smoothing
    if not dataset.heads:
        return make_loss(dataset.task, fixed, sigma=sigma), None, HEADS[dataset.task].metrics()
    loss, weights, metrics = {}, {}, {}
    for h in dataset.heads:
        smoothed = h.task != "regression"  # a regression head has no labels to smooth
        loss[h.name] = make_loss(h.task, fixed, sigma=sigma) if smoothed else make_loss(h.task)
        weights[h.name] = h.loss_weight / (h.std**2 if h.task == "regression" else 1.0)
        metrics[h.name] = HEADS[h.task].metrics()
    return loss, weights, metrics


def train(
    model: Any,
    dataset: Any,
    train_spec: Any,
    on_epoch: Callable[[list[dict[str, float]]], None],
    extra_callbacks: Sequence[Any] = (),
    *,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    checkpoint_policy: Any = None,
    checkpoint_info: dict[str, Any] | None = None,
    resumed: Resumed | None = None,
    stop_after: int | None = None,
    tensorboard_dir: Path | None = None,
    histograms: bool = False,
) -> TrainResult:
    """Compile `model` and fit it on the dataset's train split, validating on its val split.

    Each epoch's batch order and random draws (dropout, noise, augmentation) are functions of
    (`seed`, epoch) alone, so a run resumed at epoch k continues as the uninterrupted one would.
    `extra_callbacks` (Keras callbacks, e.g. a sweep's pruner) run after expctl's own each epoch.
    `checkpoint_dir`: the run directory to checkpoint into as `checkpoint_policy` says (a
    `expctl.runs.checkpoint.CheckpointPolicy`; default `DEFAULT_POLICY`); `resumed`: a
    checkpoint to continue from (weights, optimizer, callbacks, history);
    `stop_after`: end after that many epochs (the schedule still spans `train.epochs`).
    With `tensorboard_dir`, each epoch's history row is also written there as TensorBoard
    scalars (and, with `histograms`, every weight as a histogram).
    """
    from expctl.training.callbacks import ReseedEachEpoch
    from expctl.training.checkpoint import restore_model
    from expctl.training.schedules import make_schedule, steps_per_epoch

    # The order below is the order in which layers, optimizer, callbacks and the tf.data
    # pipeline are created: it fixes the random state, so a rerun gives the same numbers.
    heads = [h.name for h in dataset.heads]  # Keras prefixes a head's logs with its name
    learning_rate, schedule_callbacks = make_schedule(
        train_spec.schedule,
        train_spec.optimizer.learning_rate,
        steps_per_epoch(len(dataset.train), train_spec.batch_size),
        train_spec.epochs,
        heads=heads,
    )
    fitted = _compile(model, dataset, train_spec, learning_rate)
    if resumed is not None:
        restore_model(fitted, resumed)
    callbacks = _callbacks(
        train_spec,
        heads,
        on_epoch,
        schedule_callbacks,
        extra_callbacks,
        tensorboard_dir=tensorboard_dir,
        histograms=histograms,
    )
    checkpointer = _checkpointer(
        callbacks, checkpoint_dir, checkpoint_policy, checkpoint_info, seed, resumed
    )
    callbacks.all.append(checkpointer)  # last: see _checkpointer
    _add_stops(callbacks.all, stop_after)
    batches, validation = _data(dataset, train_spec, seed)
    callbacks.all.insert(0, ReseedEachEpoch(seed, batches.set_epoch, _loss_generators(fitted)))
    _fit(fitted, batches, validation, callbacks.all, checkpointer, train_spec, resumed)
    return _result(callbacks, checkpointer, train_spec.early_stopping)


@dataclass
class _Callbacks:
    """expctl's callbacks of one fit, in the order Keras calls them, and those read back later."""

    all: list[Any]
    recorder: Any
    divergence: Any
    early: Any
    pruning: Any
    plateau: Any


def _loss_generators(fitted: Any) -> list[Any]:
    """The SeedGenerators of the compiled losses (random label smoothing draws from them)."""
    losses = fitted.loss.values() if isinstance(fitted.loss, dict) else [fitted.loss]
    return [loss.seed_generator for loss in losses if hasattr(loss, "seed_generator")]


def _compile(model: Any, dataset: Any, train_spec: Any, learning_rate: Any) -> Any:
    """Compile what is fitted: `model`, or the adversarial trainer sharing its variables."""
    fitted = model
    if train_spec.adversarial is not None:
        from expctl.training.adversarial import AdversarialTrainer

        # the trainer shares the model's variables: `model` is what is evaluated and saved
        fitted = AdversarialTrainer(
            model, epsilon=train_spec.adversarial.epsilon, weight=train_spec.adversarial.weight
        )
    loss, loss_weights, metrics = _losses(dataset, train_spec.label_smoothing)
    fitted.compile(
        optimizer=make_optimizer(train_spec.optimizer, learning_rate=learning_rate),
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics,
        steps_per_execution=steps_per_execution(len(dataset.train), train_spec.batch_size),
        jit_compile=train_spec.jit_compile,
    )
    return fitted


def _callbacks(
    train_spec: Any,
    heads: list[str],
    on_epoch: Callable[[list[dict[str, float]]], None],
    schedule_callbacks: list[Any],
    extra_callbacks: Sequence[Any],
    *,
    tensorboard_dir: Path | None,
    histograms: bool,
) -> _Callbacks:
    """The epoch callbacks before the checkpointer: pruning, recording, divergence, schedule,
    early stopping, then `extra_callbacks`."""
    import keras

    from expctl.training.callbacks import DivergenceStop, EpochRecorder, monitor_mode

    recorder = EpochRecorder(on_epoch)
    divergence = DivergenceStop()
    # pruning first (it adds `sparsity` to the logs), then the recorder: a plateau callback
    # changes the rate for the *next* epoch
    callbacks: list[Any] = [recorder, divergence, *schedule_callbacks]
    if tensorboard_dir is not None:
        from expctl.training.tensorboard import TensorBoardLogger

        callbacks.insert(1, TensorBoardLogger(tensorboard_dir, recorder, histograms=histograms))
    pruning = None
    if train_spec.pruning is not None:
        from expctl.training.pruning import MagnitudePruning

        p = train_spec.pruning
        pruning = MagnitudePruning(
            p.target_sparsity,
            p.start_epoch,
            p.end_epoch,
            frequency_steps=p.frequency_steps,
            prune_output=p.prune_output,
        )
        callbacks.insert(0, pruning)
    early = None
    es = train_spec.early_stopping
    if es is not None:
        early = keras.callbacks.EarlyStopping(
            monitor=es.monitor,
            patience=es.patience,
            min_delta=es.min_delta,
            mode=monitor_mode(es.monitor, es.mode, heads, key="train.early_stopping.monitor"),
            restore_best_weights=es.restore_best,
            start_from_epoch=es.start_from_epoch,
        )
        callbacks.append(early)
    callbacks.extend(extra_callbacks)
    plateau = next(
        (c for c in schedule_callbacks if isinstance(c, keras.callbacks.ReduceLROnPlateau)), None
    )
    return _Callbacks(callbacks, recorder, divergence, early, pruning, plateau)


def _checkpointer(
    callbacks: _Callbacks,
    checkpoint_dir: Path | None,
    checkpoint_policy: Any,
    checkpoint_info: dict[str, Any] | None,
    seed: int,
    resumed: Resumed | None,
) -> Any:
    """The Checkpointer; it must run last, as it saves what the others did at the epoch's end,
    and restores after they reset."""
    from expctl.runs.checkpoint import DEFAULT_POLICY
    from expctl.training.checkpoint import Checkpointer

    policy = checkpoint_policy if checkpoint_policy is not None else DEFAULT_POLICY
    return Checkpointer(
        checkpoint_dir,
        policy,
        callbacks.recorder,
        early=callbacks.early,
        plateau=callbacks.plateau,
        pruning=callbacks.pruning,
        info={
            "seed": int(seed),
            "checkpoint_every": str(policy),
            **(checkpoint_info or {}),
        },
        resumed=resumed,
    )


def _add_stops(callbacks: list[Any], stop_after: int | None) -> None:
    """Append the callbacks that end a fit early: `stop_after` epochs, and held signals."""
    from expctl.training.callbacks import InterruptPoints
    from expctl.training.checkpoint import StopAfter

    if stop_after is not None:
        callbacks.append(StopAfter(stop_after))
    # after the checkpointer: an epoch that ended is on record before a held signal stops the run
    callbacks.append(InterruptPoints())


def _data(dataset: Any, train_spec: Any, seed: int) -> tuple[Any, Any]:
    """The training batches (an EpochBatches, reshuffled per epoch) and `fit`'s validation_data."""
    from expctl.training.pipeline import EpochBatches, StreamedBatches, ordered_batches

    if getattr(dataset, "streamed", False):
        counts = dataset.train.class_counts
        weights = class_weights(train_spec.class_weight, None, dataset.n_classes, counts)
        return StreamedBatches.of(dataset, train_spec.batch_size, seed, train_spec.shuffle, weights)
    weights = class_weights(train_spec.class_weight, dataset.train.y, dataset.n_classes)
    train_w = event_weights(dataset.train, weights)
    validation = None
    if len(dataset.val):
        val_w = event_weights(dataset.val, weights)
        # the batches Keras cuts from arrays (in order, train.batch_size), without its copy
        validation = ordered_batches(
            (dataset.val.x, _targets(dataset.val)) + ((val_w,) if val_w is not None else ()),
            train_spec.batch_size,
        )
    batches = EpochBatches(
        dataset.train.x,
        _targets(dataset.train),
        train_w,
        train_spec.batch_size,
        seed=seed,
        shuffle=train_spec.shuffle,
    )
    return batches, validation


def _fit(
    fitted: Any,
    batches: Any,
    validation: Any,
    callbacks: list[Any],
    checkpointer: Any,
    train_spec: Any,
    resumed: Resumed | None,
) -> None:
    """Run Keras' fit over the epochs left; on an interrupt, flush the last epoch to disk first."""
    initial_epoch, epochs = _epoch_range(resumed, train_spec.epochs)
    try:
        fitted.fit(
            batches.dataset(),
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation,
            shuffle=False,  # the dataset is shuffled, per epoch, by EpochBatches
            callbacks=callbacks,
            verbose=0,
        )
    except KeyboardInterrupt:
        # SIGINT/SIGTERM (expctl.errors.Interrupted): keep the last completed epoch on disk
        checkpointer.flush()
        raise


def _epoch_range(resumed: Resumed | None, epochs: int) -> tuple[int, int]:
    """`fit`'s (initial_epoch, epochs): from the start, or from a resumed checkpoint."""
    if resumed is None:
        return 0, epochs
    if resumed.finished(epochs):
        # early stopping had ended training: fit no epoch, only restore (best weights)
        return resumed.epoch, resumed.epoch
    return resumed.epoch, epochs


def _result(callbacks: _Callbacks, checkpointer: Any, early_spec: Any) -> TrainResult:
    """How training ended, from the recorder, early stopping, divergence and the checkpointer."""
    rows = callbacks.recorder.rows
    early = callbacks.early
    best_epoch: int | None = None
    restored = False
    stopped = None
    if early is not None:
        stopped = early.stopped_epoch + 1 if early.stopped_epoch > 0 else None
        if early.best is not None:
            best_epoch = early.best_epoch + 1
            restored = early_spec.restore_best and early.best_weights is not None
    elif rows and "val_loss" in rows[0]:
        finite = [r for r in rows if math.isfinite(r["val_loss"])]
        if finite:
            best_epoch = int(min(finite, key=lambda r: r["val_loss"])["epoch"])
    divergence = callbacks.divergence
    return TrainResult(
        rows=rows,
        epochs_trained=len(rows),
        best_epoch=best_epoch,
        stopped_epoch=stopped,
        restored_best=restored,
        diverged=divergence.diverged_epoch is not None,
        divergence_reason=divergence.reason,
        weights_sha256=list(checkpointer.digests),
    )
