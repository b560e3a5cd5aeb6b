"""Optimizers from a registry, epoch-level callbacks and the fit loop (Keras imported when called)."""

from __future__ import annotations

from expctl.training.fit import TrainResult, train
from expctl.training.optimizers import OPTIMIZERS, make_optimizer

__all__ = ["OPTIMIZERS", "TrainResult", "make_optimizer", "train"]
