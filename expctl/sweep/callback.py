"""PruningCallback: report the per-epoch validation metric to an Optuna trial; stop if pruned."""

from __future__ import annotations

import math
from typing import Any

import keras


class PruningCallback(keras.callbacks.Callback):
    """Report `metric` after every epoch to `trial` and stop training when the pruner says so.

    Arguments:
        trial: the Optuna trial (anything with `report(value, step)` and `should_prune()`).
        metric: the epoch log to report, e.g. `val_auc`.
        enabled: False reports nothing (the extra seeds of a repeated trial).

    Training ends normally (`model.stop_training`), so the run is evaluated and saved like any
    other; `pruned_at` (1-based epoch) and `reason` tell the sweep to record it as pruned. Epochs
    where the metric is missing or not finite are not reported.
    """

    def __init__(self, trial: Any, metric: str, enabled: bool = True) -> None:
        super().__init__()
        self.trial = trial
        self.metric = metric
        self.enabled = enabled
        self.pruned_at: int | None = None
        self.reason: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.enabled or self.pruned_at is not None:
            return
        value = (logs or {}).get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return
        from expctl.sweep.storage import retrying  # the database may be restarting

        step = epoch + 1
        retrying(lambda: self.trial.report(float(value), step))
        if retrying(self.trial.should_prune):
            self.pruned_at = step
            self.reason = f"pruned at epoch {step}: {self.metric} {float(value):.6g}"
            self.model.stop_training = True
