"""Hyperparameter sweeps on Optuna: search spaces, samplers, pruners, storage and workers.

`space`, `samplers`, `pruners`, `storage` and `study` propose and record trials and import no Keras;
`objective` (and `callback`) train them through the runner; `workers` runs the trial loop in spawned
processes; `outputs` writes sweep.csv, best.yaml and the plots; `lifecycle` runs a sweep from start
to end (`run_sweep`, `dry_run`), for the command and the Python API alike.
"""

from __future__ import annotations

import warnings
from typing import Any

from optuna.exceptions import ExperimentalWarning

# heartbeat, RetryFailedTrialCallback and multivariate TPE are flagged experimental by Optuna
warnings.filterwarnings("ignore", category=ExperimentalWarning)

#: What `expctl.sweep` offers, loaded on first use (a worker importing a submodule skips it).
_LIFECYCLE = (
    "BestTrial",
    "SweepEstimate",
    "SweepResult",
    "SweepSetup",
    "dry_run",
    "prepare_sweep",
    "run_sweep",
)


def __getattr__(name: str) -> Any:
    if name in _LIFECYCLE:
        from expctl.sweep import lifecycle

        return getattr(lifecycle, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LIFECYCLE)
