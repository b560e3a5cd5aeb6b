"""`--dry-run`'s estimates: the model's parameter count over the space, and a short timing probe.

The probe trains a few sampled trials for two epochs in memory (nothing is written): the second
epoch gives the time per epoch, the rest (data, model building, the first epoch's tracing) the fixed
cost per trial. The estimate assumes every trial runs all its epochs (no early stopping, no pruning).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import optuna

from expctl.spec.sweep import LoadedSweep
from expctl.sweep.samplers import TrialSeededRandomSampler
from expctl.sweep.space import Space, trial_loaded

MAX_MODELS = 64


@dataclass(frozen=True)
class ProbeResult:
    params_min: int
    params_max: int
    models: int
    trial_s: float
    epoch_s: float
    overhead_s: float
    points: int

    def total_s(self, trials: int, repeats: int, workers: int, cores: int) -> float:
        """Wall time of the sweep: trials share the workers; workers beyond the cores do not help."""
        parallel = max(1, min(workers, cores))
        return self.trial_s * trials * repeats / parallel


def sample_points(lsweep: LoadedSweep, space: Space, n: int) -> list[dict[str, Any]]:
    """n parameter points as the sweep would draw them (grid: evenly spread grid points)."""
    if lsweep.sweep.method == "grid":
        grid = space.grid()
        step = max(1, len(grid) // n)
        return [space.decode(p) for p in grid[::step][:n]]
    study = optuna.create_study(sampler=TrialSeededRandomSampler(lsweep.sweep.seed))
    points = []
    for _ in range(n):
        trial = study.ask()
        points.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return points


def probe(lsweep: LoadedSweep, space: Space, n_points: int = 3, epochs: int = 2) -> ProbeResult:
    """Count parameters at the space's corners and time `n_points` sampled trials."""
    from expctl.data import prepare
    from expctl.models import build_model
    from expctl.runner import configure_keras
    from expctl.training import train

    spec = lsweep.loaded.spec
    configure_keras(spec.seed)
    datasets: dict[str, Any] = {}

    def dataset_of(loaded: Any) -> Any:
        key = json.dumps(loaded.spec.data.model_dump(mode="json"), sort_keys=True)
        if key not in datasets:
            # as the trials will read it: streamed when the spec (or its size) says so
            datasets[key] = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed)
        return datasets[key]

    counts = []
    for i, point in enumerate(space.corners()):
        if i >= MAX_MODELS:
            break
        loaded = trial_loaded(lsweep, point)
        counts.append(int(build_model(loaded.spec.model, dataset_of(loaded)).count_params()))

    epoch_times, overheads = [], []
    for point in sample_points(lsweep, space, n_points):
        loaded = trial_loaded(lsweep, {**point, "train.epochs": epochs})
        started = time.perf_counter()
        dataset = dataset_of(loaded)
        model = build_model(loaded.spec.model, dataset)
        history: dict[str, list[dict[str, float]]] = {}
        train(model, dataset, loaded.spec.train, lambda r, h=history: h.update(rows=list(r)))
        rows = history["rows"]
        total = time.perf_counter() - started
        epoch = float(rows[-1]["epoch_time_s"])
        epoch_times.append(epoch)
        overheads.append(max(0.0, total - epoch * len(rows)))
    epoch_s = statistics.fmean(epoch_times)
    overhead_s = statistics.fmean(overheads)
    return ProbeResult(
        params_min=min(counts),
        params_max=max(counts),
        models=len(counts),
        trial_s=overhead_s + epoch_s * spec.train.epochs,
        epoch_s=epoch_s,
        overhead_s=overhead_s,
        points=len(epoch_times),
    )
