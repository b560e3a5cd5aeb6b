"""Hyperparameter sweeps on Optuna: search spaces, samplers, pruners, storage and workers.

`space`, `samplers`, `pruners`, `storage` and `study` propose and record trials and import no Keras;
`objective` (and `callback`) train them through the runner; `workers` runs the trial loop in spawned
processes; `outputs` writes sweep.csv, best.yaml and the plots.
"""

from __future__ import annotations

import warnings

from optuna.exceptions import ExperimentalWarning

# heartbeat, RetryFailedTrialCallback and multivariate TPE are flagged experimental by Optuna
warnings.filterwarnings("ignore", category=ExperimentalWarning)
