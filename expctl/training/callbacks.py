"""Epoch-level callbacks: record history, stop on divergence; and the interrupt points, the only
one that runs per compiled call (every `steps_per_execution` batches), not per batch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras

from expctl.errors import SpecError
from expctl.evaluation import catalogue
from expctl.interrupts import check


class EpochRecorder(keras.callbacks.Callback):
    """Collect one row per epoch (every Keras log plus the learning rate) and hand it to `sink`.

    Args:
        sink: called after every epoch with all rows so far, so a crash keeps the epochs done.
    """

    def __init__(self, sink: Callable[[list[dict[str, float]]], None]) -> None:
        super().__init__()
        self.sink = sink
        self.rows: list[dict[str, float]] = []
        self._start = 0.0
        self._learning_rate = math.nan

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()
        # the rate the epoch's first step uses (a schedule may lower it during the epoch)
        self._learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row: dict[str, float] = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"})
        row["learning_rate"] = self._learning_rate
        row["epoch_time_s"] = time.perf_counter() - self._start
        self.rows.append(row)
        self.sink(self.rows)


class DivergenceStop(keras.callbacks.Callback):
    """Stop training at the end of the first epoch whose loss is NaN or infinite.

    Checked once per epoch (not per batch) so it costs nothing on the training hot path.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diverged_epoch: int | None = None
        self.reason = ""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self.diverged_epoch = epoch + 1
                self.reason = f"{key} is {float(value)} at epoch {epoch + 1}"
                self.model.stop_training = True
                return


def monitor_mode(monitor: str, mode: str, heads: Iterable[str] = (), key: str = "monitor") -> str:
    """Keras' `mode` ("min"/"max") for a monitored log; "auto" asks the metric catalogue.

    `heads` are a multitask model's head names (so `val_signal_auc` is recognised; Keras' own
    "auto" knows `auc` and `accuracy` but not a head's). A log the catalogue gives no direction
    is refused (SpecError naming `key`), never guessed from its name.
    """
    if mode != "auto":
        return mode
    better = catalogue.direction(monitor, heads)
    if better is None:
        raise SpecError(
            f"{catalogue.no_direction_message(monitor, f'{key} with mode auto')} "
            "(mode: min or mode: max)"
        )
    return "max" if better == "higher" else "min"


def epoch_seed(seed: int, epoch: int, index: int) -> int:
    """A seed in [1, 2³¹ − 2] from (run seed, 0-based epoch, generator index), by SeedSequence.

    Keras' TensorFlow backend reduces a seed modulo 2³¹ − 1 before its stateless random ops, so
    staying below keeps distinct keys distinct.
    """
    import numpy as np

    (value,) = np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint32)
    return int(value) % (2**31 - 2) + 1


def seed_states(model: Any) -> list[Any]:
    """The state variables of every `keras.random.SeedGenerator` of `model`, in a fixed order.

    `Model.variables` is documented to hold the weights *and* the random seeds' states; the
    states are what is in it but not in `weights` (a SeedGenerator's state is [seed, counter]).
    """
    weights = {id(v) for v in model.weights}
    return [
        v
        for v in model.variables
        if id(v) not in weights and v.name == "seed_generator_state" and tuple(v.shape) == (2,)
    ]


class ReseedEachEpoch(keras.callbacks.Callback):
    """Make each epoch's randomness a pure function of (seed, epoch).

    At the start of epoch e every SeedGenerator of the model (Dropout, GaussianNoise, NoisyDense,
    the augmentation layers) gets the state [epoch_seed(seed, e, i), 0], and `set_epoch(e)` tells
    the training data which permutation to deliver. Epoch e then draws the same masks and noise,
    on the same batches, whether the run started at epoch 0 or was resumed at e.

    Args:
        seed: the run's seed.
        set_epoch: called with the 0-based epoch before its batches are read (None: no data).
        generators: SeedGenerators outside the model (a random label smoothing's), reseeded
            the same way after the model's, with the indices that follow theirs.
    """

    def __init__(
        self,
        seed: int,
        set_epoch: Callable[[int], None] | None = None,
        generators: Sequence[Any] = (),
    ) -> None:
        super().__init__()
        self.seed = int(seed)
        self.set_epoch = set_epoch
        self.generators = list(generators)
        self._states: list[Any] | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._states = seed_states(self.model) + [g.state for g in self.generators]

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import numpy as np

        if self.set_epoch is not None:
            self.set_epoch(epoch)
        for i, state in enumerate(self._states or ()):
            value = np.array([epoch_seed(self.seed, epoch, i), 0])
            state.assign(value.astype(keras.backend.standardize_dtype(state.dtype)))


class InterruptPoints(keras.callbacks.Callback):
    """Raise a held SIGINT/SIGTERM (see `expctl.interrupts`) between two compiled calls.

    Runs once per `steps_per_execution` batches, in the main thread (not async-safe on purpose:
    the exception must leave Keras' loop from the main thread). Put it after the checkpointer so
    an epoch that ended is recorded before the run stops.
    """

    def _check(self, *args: Any, **kwargs: Any) -> None:
        check()

    on_train_batch_end = _check
    on_test_batch_end = _check
    on_predict_batch_end = _check
    on_epoch_end = _check
