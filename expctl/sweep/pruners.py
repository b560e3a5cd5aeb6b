"""Optuna pruners by name, fed the per-epoch validation metric (a registry)."""

from __future__ import annotations

from collections.abc import Callable

import optuna
from optuna.pruners import BasePruner

from expctl.errors import SpecError


def _median(epochs: int) -> BasePruner:
    # A trial is stopped when its metric is worse than the median of earlier trials at the same
    # epoch; the first 5 trials and the first epoch are never judged (too little to compare with).
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _hyperband(epochs: int) -> BasePruner:
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)


def _none(epochs: int) -> BasePruner:
    return optuna.pruners.NopPruner()


PRUNERS: dict[str, Callable[[int], BasePruner]] = {
    "none": _none,
    "median": _median,
    "hyperband": _hyperband,
}


def make_pruner(name: str, epochs: int) -> BasePruner:
    try:
        return PRUNERS[name](epochs)
    except KeyError:
        raise SpecError(
            f"sweep.pruner: unknown pruner {name!r}; one of {', '.join(PRUNERS)}"
        ) from None
