"""Epoch-level callbacks: record history, stop on divergence. None of them runs per batch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import keras


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


def monitor_mode(monitor: str, mode: str) -> str:
    """`mode` for a monitored log: "auto" becomes max for accuracies and AUCs, else min.

    Keras' own "auto" knows `auc` and `accuracy` but not a multitask head's `signal_auc`.
    """
    if mode != "auto":
        return mode
    return "max" if monitor.removeprefix("val_").endswith(("accuracy", "auc")) else "min"
