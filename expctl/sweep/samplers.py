"""Optuna samplers by method name (a registry: unknown names list the choices).

A sampler is built in every worker process. Parallel workers must not propose the same points, so:
- `random` draws each trial's parameters from a generator seeded by (seed, trial number, key): trial
  n gets the same parameters whatever the number of workers or the order they ask in;
- `grid` enqueues every point of the Cartesian product once, when the study is created, so each
  point is popped by exactly one worker (Optuna's GridSampler can give two workers the same point);
- `bayes` is TPE with the seed offset by the worker's index and Optuna's constant liar (running
  trials count as bad results), so two workers do not propose the same point. With one worker the
  sequence depends only on the seed; with several it also depends on which trial finishes first.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from expctl.errors import SpecError


@dataclass(frozen=True)
class SamplerContext:
    """What a sampler factory may use: the sweep's seed and budget, and which worker asks."""

    seed: int
    trials: int
    worker: int = 0


class TrialSeededRandomSampler(BaseSampler):
    """Uniform random sampling where trial n's value of a key depends only on (seed, n, key)."""

    def __init__(self, seed: int) -> None:
        self._seed = int(seed)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        key = f"{self._seed}:{trial.number}:{param_name}".encode()
        inner = RandomSampler(seed=zlib.crc32(key))
        return inner.sample_independent(study, trial, param_name, param_distribution)


def _random(ctx: SamplerContext) -> BaseSampler:
    return TrialSeededRandomSampler(ctx.seed)


def _tpe(ctx: SamplerContext) -> BaseSampler:
    # Optuna's default of 10 random start-up trials is most of a small budget; a third of it,
    # at least 3, leaves TPE the rest.
    startup = min(10, max(3, ctx.trials // 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=ctx.seed + ctx.worker,
            n_startup_trials=startup,
            multivariate=True,
            constant_liar=True,
        )


def _gp(ctx: SamplerContext) -> BaseSampler:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SpecError(
            "sweep.method: gp needs PyTorch (pip install torch, or uv add torch); "
            "method bayes (TPE) needs nothing more"
        ) from None
    startup = min(10, max(3, ctx.trials // 3))
    return optuna.samplers.GPSampler(seed=ctx.seed + ctx.worker, n_startup_trials=startup)


SAMPLERS: dict[str, Callable[[SamplerContext], BaseSampler]] = {
    # every grid trial is enqueued with its parameters; the sampler is never consulted
    "grid": _random,
    "random": _random,
    "bayes": _tpe,
    "gp": _gp,
}


def make_sampler(method: str, ctx: SamplerContext) -> BaseSampler:
    try:
        factory = SAMPLERS[method]
    except KeyError:
        raise SpecError(
            f"sweep.method: unknown method {method!r}; one of {', '.join(SAMPLERS)}"
        ) from None
    return factory(ctx)
