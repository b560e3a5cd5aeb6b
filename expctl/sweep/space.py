"""The search space: spec keys -> Optuna distributions, grids, corners, and trials -> specs.

No Keras here: this is the part that proposes trials. A trial's parameters are plain values keyed by
their dotted spec key (`model.dropout`); a choice whose values are not scalars (a list of layer
sizes) is stored in Optuna under its JSON text, which is also what `sweep.csv` shows.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from expctl.errors import SpecError
from expctl.spec import LoadedSpec, spec_from_dict
from expctl.spec.load import set_path
from expctl.spec.schema import Spec
from expctl.spec.sweep import ChoiceDim, DimSpec, FloatDim, IntDim, LoadedSweep, grid_values

#: Above this many corner combinations only each dimension's corners are checked on their own.
MAX_CORNERS = 4096
_SCALARS = (bool, int, float, str, type(None))


def _label(value: Any) -> Any:
    return value if isinstance(value, _SCALARS) else json.dumps(value)


@dataclass(frozen=True)
class Dimension:
    """One searched spec key and the Optuna distribution it is sampled from."""

    key: str
    spec: DimSpec

    @property
    def distribution(self) -> BaseDistribution:
        dim = self.spec
        if isinstance(dim, FloatDim):
            high = dim.high
            if dim.step is not None:  # Optuna wants high on the grid of steps
                high = grid_values(dim)[-1]
            return FloatDistribution(dim.low, high, log=dim.log, step=dim.step)
        if isinstance(dim, IntDim):
            high = dim.low + (dim.high - dim.low) // dim.step * dim.step
            return IntDistribution(dim.low, high, log=dim.log, step=dim.step)
        return CategoricalDistribution([_label(v) for v in dim.values])

    def decode(self, stored: Any) -> Any:
        """The spec value of a parameter as Optuna stores it."""
        if isinstance(self.spec, ChoiceDim):
            for value in self.spec.values:
                if _label(value) == stored:
                    return copy.deepcopy(value)
            raise ValueError(f"{self.key}: {stored!r} is not one of the choices")
        return stored

    def corners(self) -> list[Any]:
        """Values that bound what this dimension can produce: both ends, or every choice."""
        if isinstance(self.spec, ChoiceDim):
            return list(self.spec.values)
        dist = self.distribution
        return [dist.low, dist.high]  # type: ignore[attr-defined]

    def describe(self) -> str:
        dim = self.spec
        if isinstance(dim, ChoiceDim):
            return f"choice of {len(dim.values)}: " + ", ".join(json.dumps(v) for v in dim.values)
        dist = self.distribution
        text = f"{dim.type} [{dist.low:g}, {dist.high:g}]"  # type: ignore[attr-defined]
        if dim.log:
            text += " log"
        step = getattr(dim, "step", None)
        if step is not None and not (isinstance(dim, IntDim) and step == 1):
            text += f" step {step:g}"
        return text


class Space:
    """The dimensions of a sweep, in the order the spec lists them."""

    def __init__(self, dims: Mapping[str, DimSpec]) -> None:
        self.dims = [Dimension(key, dim) for key, dim in dims.items()]

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dims]

    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.key: d.distribution for d in self.dims}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna trial for every dimension; returns the spec values by dotted key."""
        return {d.key: d.decode(_suggest(trial, d.key, d.distribution)) for d in self.dims}

    def decode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Spec values of a trial's stored Optuna parameters (missing keys are left out)."""
        return {d.key: d.decode(params[d.key]) for d in self.dims if d.key in params}

    def grid(self) -> list[dict[str, Any]]:
        """Every point of the Cartesian product, as Optuna-stored parameters, in a fixed order."""
        axes = [[_label(v) for v in grid_values(d.spec)] for d in self.dims]
        return [dict(zip(self.keys, point, strict=True)) for point in itertools.product(*axes)]

    def corners(self) -> Iterator[dict[str, Any]]:
        """Spec-value combinations that bound the space; all of them when there are few enough."""
        axes = [d.corners() for d in self.dims]
        total = 1
        for axis in axes:
            total *= len(axis)
        if total <= MAX_CORNERS:
            for point in itertools.product(*axes):
                yield dict(zip(self.keys, point, strict=True))
            return
        first = {d.key: axis[0] for d, axis in zip(self.dims, axes, strict=True)}
        for d, axis in zip(self.dims, axes, strict=True):
            for value in axis:
                yield {**first, d.key: value}


def _suggest(trial: Any, key: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(key, dist.choices)


def apply(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The base spec data with each parameter written at its dotted key."""
    data = copy.deepcopy(dict(base))
    for key, value in params.items():
        path = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        set_path(data, path, copy.deepcopy(value), f"sweep.space {key}")
    return data


def trial_spec(lsweep: LoadedSweep, params: Mapping[str, Any], **fixed: Any) -> Spec:
    """Validate the spec of one trial (params applied, then `fixed` top-level keys such as seed)."""
    data = apply(lsweep.base, params)
    data.update(fixed)
    return spec_from_dict(data, source=f"{lsweep.doc.source} (trial {_short(params)})")


def trial_loaded(lsweep: LoadedSweep, params: Mapping[str, Any], **fixed: Any) -> LoadedSpec:
    return LoadedSpec(
        spec=trial_spec(lsweep, params, **fixed),
        source=lsweep.loaded.source,
        base_dir=lsweep.loaded.base_dir,
    )


def _short(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def check_space(lsweep: LoadedSweep, space: Space) -> int:
    """Refuse a space that can produce an invalid spec; returns how many combinations were checked.

    Every schema bound is an interval or a set, so a spec valid at each corner of the space (both
    ends of each range, every choice) is valid inside it. Also refuses a base spec without a
    validation split: the objective is a validation metric.
    """
    checked = 0
    for point in space.corners():
        try:
            spec = trial_spec(lsweep, point)
        except SpecError as exc:
            reasons = exc.message.split("\n", 1)[-1].strip()
            keys = ", ".join(lsweep.where(("sweep", "space", k)) + f" {k}" for k in point)
            raise SpecError(
                f"invalid sweep {lsweep.doc.source}: the space can produce an invalid spec at "
                f"{_short(point)}\n  ({keys})\n  {reasons}"
            ) from None
        if spec.data.split.val == 0:
            raise SpecError(
                f"{lsweep.where(('data', 'split', 'val'))}: data.split.val: a sweep needs a "
                f"validation split: its objective {lsweep.sweep.metric} is measured on it"
            )
        checked += 1
    return checked
