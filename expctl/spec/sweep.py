"""The `sweep:` block of a sweep spec: search method, objective, budget and search space.

A sweep spec is a run spec with a top-level `sweep:` key. `load_sweep_spec` splits that key off,
validates the rest exactly like `expctl run` would and the block against `SweepSpec`, with errors
naming the file and line. This module imports no Optuna, numpy or Keras.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from expctl.errors import SpecError, did_you_mean
from expctl.evaluation import catalogue
from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.load import LoadedSpec, _parse_override, set_path, validate
from expctl.spec.yamlio import Document, Path, dotted, parse_yaml

#: Search methods (kept equal to expctl.sweep.samplers.SAMPLERS by a test). `bayes` is Optuna's
#: TPE; `gp` is Optuna's Gaussian-process sampler, which needs PyTorch.
METHODS = ("grid", "random", "bayes", "gp")
#: Pruners fed the per-epoch validation metric (kept equal to expctl.sweep.pruners.PRUNERS).
PRUNER_NAMES = ("none", "median", "hyperband")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")
#: The grid of a sweep is refused above this many points: it is a typo, not a plan.
MAX_GRID = 100_000


class FloatDim(Section):
    """A real number in [low, high] (Optuna samples [low, high) unless `step` is given)."""

    type: Literal["float"] = "float"
    low: Float
    high: Float
    log: Bool = Field(False, description="sample uniformly in log(value); needs low > 0")
    step: Float | None = Field(None, gt=0, description="values low, low+step, ... (grid needs it)")

    @model_validator(mode="after")
    def _check(self) -> FloatDim:
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low {self.low:g}, high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0, got low {self.low:g}")
        if self.log and self.step is not None:
            raise ValueError("log: true and step cannot be combined")
        return self


class IntDim(Section):
    """An integer in [low, high] (both included)."""

    type: Literal["int"] = "int"
    low: Int
    high: Int
    log: Bool = Field(False, description="sample uniformly in log(value); needs low >= 1")
    step: Int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> IntDim:
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low {self.low}, high {self.high}")
        if self.log and self.low < 1:
            raise ValueError(f"log: true needs low >= 1, got low {self.low}")
        if self.log and self.step != 1:
            raise ValueError("log: true needs step 1")
        return self


class ChoiceDim(Section):
    """One of a list of values (numbers, strings, booleans, or lists such as hidden layer sizes)."""

    type: Literal["choice"] = "choice"
    values: list[Any] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _unique(self) -> ChoiceDim:
        seen: list[Any] = []
        for value in self.values:
            if value in seen:
                raise ValueError(f"values: {value!r} is given twice")
            seen.append(value)
        return self


DIMENSIONS: dict[str, type[BaseModel]] = {"float": FloatDim, "int": IntDim, "choice": ChoiceDim}
Dimension = tagged(DIMENSIONS, "type", None)
DimSpec = FloatDim | IntDim | ChoiceDim


class SweepSpec(Section):
    """How to search: method, budget, objective, pruning, seed and the space of spec keys."""

    method: Literal[METHODS] = "random"  # type: ignore[valid-type]
    trials: Int | None = Field(
        None, ge=1, le=100_000, description="trials of the study over all workers; grid: its size"
    )
    metric: str = Field(
        "val_loss",
        pattern=r"^val_[A-Za-z0-9_]+$",
        description="a validation log of the per-epoch history (val_auc, val_loss, ...), "
        "read at the best epoch",
    )
    direction: Literal["auto", "minimize", "maximize"] = Field(
        "auto",
        description="auto: the metric's better direction in expctl's metric catalogue "
        "(maximize val_auc, val_accuracy, ...; minimize val_loss, val_mae, ...)",
    )
    repeats: Int = Field(1, ge=1, le=100, description="seeds per trial; the objective is the mean")
    pruner: Literal[PRUNER_NAMES] = "none"  # type: ignore[valid-type]
    seed: Int = Field(0, ge=0, lt=2**32, description="sampler seed")
    plots: Bool = Field(
        False, description="draw each trial's plots/ (about 1 s a trial); metrics are the same"
    )
    space: dict[str, Dimension] = Field(min_length=1, max_length=100)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        for key in self.space:
            if not _KEY.match(key):
                raise ValueError(f"space: {key!r} is not a dotted key path like model.dropout")
            if key.split(".")[0] in ("sweep", "name", "seed"):
                raise ValueError(
                    f"space: {key!r} cannot be searched (the trial name and seeds are set by the sweep)"
                )
        if self.method == "grid":
            size = grid_size(self)
            if size > MAX_GRID:
                raise ValueError(f"the grid has {size:,} points; at most {MAX_GRID:,}")
            if self.trials is not None and self.trials != size:
                raise ValueError(
                    f"trials: a grid runs its {size} points (the Cartesian product); "
                    f"leave trials out (got {self.trials})"
                )
        elif self.trials is None:
            raise ValueError(f"trials: required for method {self.method}")
        return self

    def maximizes(self, heads: Iterable[str] = ()) -> bool | None:
        """Whether the study maximises `metric`; None for `auto` on a metric with no direction.

        `auto` asks the metric catalogue; `heads` are the base spec's multitask head names, so
        that `val_<head>_auc` is recognised. A name the catalogue does not know is never guessed.
        """
        if self.direction != "auto":
            return self.direction == "maximize"
        return catalogue.higher_is_better(self.metric, heads)

    @property
    def n_trials(self) -> int:
        return grid_size(self) if self.method == "grid" else int(self.trials or 0)


def grid_values(dim: DimSpec) -> list[Any]:
    """Every value of a dimension on a grid; ValueError for a continuous one."""
    if isinstance(dim, ChoiceDim):
        return list(dim.values)
    if isinstance(dim, IntDim):
        if dim.log:
            return list(range(dim.low, dim.high + 1))
        return list(range(dim.low, dim.high + 1, dim.step))
    if dim.step is None:
        raise ValueError(
            "a grid needs a step for a float dimension (or type: choice with the values)"
        )
    n = math.floor((dim.high - dim.low) / dim.step + 1e-9) + 1
    return [round(dim.low + i * dim.step, 12) for i in range(n)]


def grid_size(sweep: SweepSpec) -> int:
    size = 1
    for key, dim in sweep.space.items():
        try:
            size *= len(grid_values(dim))
        except ValueError as exc:
            raise ValueError(f"space: {key}: {exc}") from None
    return size


# -------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedSweep:
    """A validated sweep spec: the base run spec, the sweep block and the data to apply trials to."""

    loaded: LoadedSpec
    sweep: SweepSpec
    base: dict[str, Any]
    doc: Document

    def where(self, path: Path) -> str:
        return self.doc.where(path)

    @property
    def heads(self) -> list[str]:
        """The base spec's multitask head names (empty for a single-output model)."""
        return [h.name for h in self.loaded.spec.heads]

    @property
    def maximize(self) -> bool:
        """Whether the study maximises the metric (`direction`, or the catalogue's for auto)."""
        maximize = self.sweep.maximizes(self.heads)
        assert maximize is not None, "sweep_from_dict refuses a metric with no direction"
        return maximize


def load_sweep_spec(
    path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()
) -> LoadedSweep:
    """Read a sweep spec, apply `--set` overrides (sweep.* keys too), validate both parts."""
    fs_path = FsPath(path)
    source = str(path)
    try:
        text = fs_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{source}: spec file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{source}: cannot read spec file: {exc}") from None
    doc = parse_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise SpecError(f"{source}: a sweep spec is a run spec with a top-level sweep: block")
    data = copy.deepcopy(doc.data)
    for item in overrides:
        key_path, value = _parse_override(item)
        set_path(data, key_path, value, item)
    return sweep_from_dict(data, Document(data, source, doc.lines), fs_path.resolve().parent)


def sweep_from_dict(data: dict[str, Any], doc: Document, base_dir: FsPath) -> LoadedSweep:
    """Split `sweep:` off `data` and validate both parts (used by the loader and tests)."""
    if "sweep" not in data:
        raise SpecError(
            f"{doc.source}: no sweep: block; a sweep spec is a run spec plus sweep: "
            "(method, trials, metric, space); see experiments/sweeps/random.yaml"
        )
    block = data["sweep"]
    base = {k: v for k, v in data.items() if k != "sweep"}
    spec = validate(Document(base, doc.source, doc.lines))
    try:
        sweep = SweepSpec.model_validate(block)
    except ValidationError as exc:
        lines = [_describe(err, block, doc) for err in exc.errors(include_url=False)]
        raise SpecError(
            f"invalid sweep {doc.source}:\n  " + "\n  ".join(dict.fromkeys(lines))
        ) from None
    heads = [h.name for h in spec.heads]
    if sweep.maximizes(heads) is None:
        # point at `direction:` if it is written, else at the metric whose direction is unknown
        key = "direction" if ("sweep", "direction") in doc.lines else "metric"
        where = doc.where(("sweep", key))
        problem = catalogue.no_direction_message(sweep.metric, "sweep.direction auto")
        raise SpecError(
            f"invalid sweep {doc.source}:\n  {where}: {problem} "
            "(direction: minimize or direction: maximize)"
        )
    loaded = LoadedSpec(spec=spec, source=doc.source, base_dir=base_dir)
    return LoadedSweep(loaded=loaded, sweep=sweep, base=copy.deepcopy(base), doc=doc)


def _describe(err: dict[str, Any], block: Any, doc: Document) -> str:
    loc = list(err["loc"])
    # pydantic names the chosen dimension type in the location: ('space', key, 'float', 'low')
    if len(loc) >= 3 and loc[0] == "space" and loc[2] in DIMENSIONS:
        del loc[2]
    path: Path = ("sweep", *loc)
    where = doc.where(path)
    key = dotted(path) if len(loc) < 2 or loc[0] != "space" else _space_key(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc, block)
        allowed = sorted(model.model_fields) if model is not None else []
        hint = did_you_mean(str(loc[-1]), allowed)
        return f"{where}: {key}: unknown key{hint}; allowed here: {', '.join(allowed)}"
    if kind == "unknown_variant":
        return f"{where}: {key}.type: must be one of {', '.join(DIMENSIONS)}"
    if kind == "missing":
        return f"{where}: {key}: required key missing"
    message = err["msg"].removeprefix("Value error, ")
    given = err.get("input")
    if kind != "value_error" and isinstance(given, str | int | float | bool):
        message += f" (got {given!r})"
    return f"{where}: {key}: {message}"


def _space_key(loc: list[Any]) -> str:
    """`sweep.space[model.dropout].low`: the dotted key of a dimension stays one unit."""
    rest = "".join(f".{p}" for p in loc[2:])
    return f"sweep.space[{loc[1]}]{rest}"


def _model_at(loc: list[Any], block: Any) -> type[BaseModel] | None:
    if len(loc) <= 1:
        return SweepSpec
    if loc[0] == "space" and len(loc) == 3:
        dim = block.get("space", {}).get(loc[1]) if isinstance(block, dict) else None
        kind = dim.get("type") if isinstance(dim, dict) else None
        return DIMENSIONS.get(str(kind))
    return None
