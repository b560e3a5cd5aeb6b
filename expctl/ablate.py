"""`expctl ablate`: run a spec, then the spec with each regulariser it uses switched off.

The lecture's "try various options", as one command: every variant is a normal run (so compare,
roc and show work on them), repeated over seeds, and the regularisers are ranked by how much
the validation metric (at the best epoch) and the main test metric get worse without them.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError


@dataclass(frozen=True)
class Regulariser:
    """A regulariser a spec can use: how to tell it is on, and the overrides that turn it off."""

    name: str
    on: Callable[[Any], bool]
    off: Callable[[Any], list[str]]


def _model(spec: Any, key: str, default: Any = None) -> Any:
    return getattr(spec.model, key, default)


def _per_layer_on(key: str) -> Callable[[Any], bool]:
    def on(spec: Any) -> bool:
        value = _model(spec, key, 0.0)
        return any(v > 0 for v in value) if isinstance(value, list) else bool(value)

    return on


def _conv_off(key: str) -> Callable[[Any], list[str]]:
    def off(spec: Any) -> list[str]:
        layers = [{**layer.model_dump(), key: 0.0} for layer in spec.model.conv]
        return [f"model.conv={json.dumps(layers)}"]

    return off


def _augment_on(spec: Any) -> bool:
    augment = _model(spec, "augment")
    return augment is not None and any(
        v not in (0, 0.0, "none") for v in augment.model_dump().values()
    )


#: Every regulariser `ablate` knows, in the order they are reported when tied.
REGULARISERS: tuple[Regulariser, ...] = (
    Regulariser("dropout", _per_layer_on("dropout"), lambda s: ["model.dropout=0.0"]),
    Regulariser("l1", _per_layer_on("l1"), lambda s: ["model.l1=0.0"]),
    Regulariser("l2", _per_layer_on("l2"), lambda s: ["model.l2=0.0"]),
    Regulariser(
        "conv_dropout",
        lambda s: any(c.dropout > 0 for c in _model(s, "conv", None) or []),
        _conv_off("dropout"),
    ),
    Regulariser(
        "conv_l2",
        lambda s: any(c.l2 > 0 for c in _model(s, "conv", None) or []),
        _conv_off("l2"),
    ),
    Regulariser(
        "weight_clip",
        lambda s: _model(s, "weight_clip") is not None,
        lambda s: ["model.weight_clip=null"],
    ),
    Regulariser(
        "max_norm", lambda s: _model(s, "max_norm") is not None, lambda s: ["model.max_norm=null"]
    ),
    Regulariser("input_noise", _per_layer_on("input_noise"), lambda s: ["model.input_noise=0.0"]),
    Regulariser(
        "weight_noise", _per_layer_on("weight_noise"), lambda s: ["model.weight_noise=0.0"]
    ),
    Regulariser("augment", _augment_on, lambda s: ["model.augment={}"]),
    Regulariser(
        "label_smoothing",
        lambda s: s.train.label_smoothing > 0,
        lambda s: ["train.label_smoothing=0.0"],
    ),
    Regulariser(
        "adversarial",
        lambda s: s.train.adversarial is not None,
        lambda s: ["train.adversarial=null"],
    ),
    Regulariser("pruning", lambda s: s.train.pruning is not None, lambda s: ["train.pruning=null"]),
    Regulariser(
        "early_stopping",
        lambda s: s.train.early_stopping is not None,
        lambda s: ["train.early_stopping=null"],
    ),
)

#: The main test metric per task (larger is better for each).
MAIN_METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}
#: The validation log compared per task, and whether larger is better. Not val_loss: it includes
#: the L1/L2 penalties, so removing them would "improve" it by the penalty itself.
VAL_METRIC = {
    "binary": ("val_auc", True),
    "multiclass": ("val_accuracy", True),
    "regression": ("val_mae", False),
}


def variants(spec: Any) -> list[tuple[str, list[str]]]:
    """("full", []) then ("no <regulariser>", overrides) for each regulariser the spec uses."""
    found = [("full", [])]
    found += [(f"no {r.name}", r.off(spec)) for r in REGULARISERS if r.on(spec)]
    return found


def _mean_sd(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def summarise(
    results: dict[str, list[dict[str, float]]],
    metric: str,
    val_metric: str = "val_auc",
    val_higher_is_better: bool = True,
) -> list[dict[str, Any]]:
    """Rows of the ablation table, ranked: per variant the mean ± sd over seeds of the validation
    metric (at the best epoch) and the test metric, and each regulariser's effect (with it minus
    without it, signed so that positive means it helps) with its standard error; strongest first."""
    full = results["full"]
    full_val = _mean_sd([r["val"] for r in full])
    full_test = _mean_sd([r["test"] for r in full])
    sign = 1.0 if val_higher_is_better else -1.0
    rows = []
    for name, runs in results.items():
        val = _mean_sd([r["val"] for r in runs])
        test = _mean_sd([r["test"] for r in runs])
        row = {
            "variant": name,
            "seeds": len(runs),
            val_metric: val[0],
            f"{val_metric}_sd": val[1],
            f"test_{metric}": test[0],
            f"test_{metric}_sd": test[1],
        }
        if name != "full":
            n, m = len(full), len(runs)
            row["val_effect"] = sign * (full_val[0] - val[0])
            row["val_effect_se"] = math.sqrt(full_val[1] ** 2 / n + val[1] ** 2 / m)
            row["test_effect"] = full_test[0] - test[0]
            row["test_effect_se"] = math.sqrt(full_test[1] ** 2 / n + test[1] ** 2 / m)
        rows.append(row)
    ranked = sorted(
        rows[1:], key=lambda r: -r["val_effect"] if math.isfinite(r["val_effect"]) else math.inf
    )
    return [rows[0], *ranked]


def val_at_best(history_csv: Path, column: str, best_epoch: int | None) -> float:
    """A validation log at the run's best epoch (its last epoch without one); NaN if absent."""
    import pandas as pd

    history = pd.read_csv(history_csv)
    if column not in history or history.empty:
        return math.nan
    rows = history[history["epoch"] == best_epoch] if best_epoch else history.tail(1)
    return float(rows[column].iloc[0]) if len(rows) else math.nan


@dataclass(frozen=True)
class AblationOutcome:
    path: Path
    rows: list[dict[str, Any]]
    metric: str
    val_metric: str


def run_ablation(
    spec_path: str,
    output_dir: Path,
    repeat: int = 1,
    overrides: tuple[str, ...] = (),
    echo: Callable[[str], None] = lambda _: None,
) -> AblationOutcome:
    """Train every variant `repeat` times (seeds seed, seed+1, ...) and write the ablation."""
    from expctl.data import prepare
    from expctl.runner import check_against_data, run
    from expctl.runs import RunDir, atomic_write_json, atomic_write_text
    from expctl.spec import load_spec, resolved_yaml

    base = load_spec(spec_path, overrides)
    found = variants(base.spec)
    if len(found) == 1:
        names = ", ".join(r.name for r in REGULARISERS)
        raise BadInputError(
            f"{spec_path}: the spec uses no regulariser to ablate; ablate knows {names}"
        )
    # every variant and seed is validated, and the data checked, before anything is written
    loaded = {
        (name, i): load_spec(spec_path, [*overrides, *off, f"seed={base.spec.seed + i}"])
        for name, off in found
        for i in range(repeat)
    }
    dataset = prepare(base.spec.data, base.base_dir, base.spec.seed, base.spec.heads)
    check_against_data(base, dataset)
    metric = MAIN_METRIC[dataset.task]
    val_metric, val_higher = VAL_METRIC[dataset.task]

    folder = RunDir.create(Path(output_dir), f"ablate-{base.spec.name}")
    atomic_write_text(folder.file("base_spec.yaml"), resolved_yaml(base.spec))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in found}
    runs_dir = folder.path / "runs"
    for (name, _), spec in loaded.items():
        outcome = run(spec, runs_dir)
        best = outcome.metrics.get("best_epoch")
        results[name].append(
            {
                "val": val_at_best(outcome.run_dir / "history.csv", val_metric, best),
                "test": float(outcome.metrics.get(metric, math.nan)),
                "run": outcome.run_dir.name,
            }
        )
        echo(f"{name:<20} seed {spec.spec.seed}: test {metric} {outcome.metrics.get(metric):.4f}")
    rows = summarise(results, metric, val_metric, val_higher)
    atomic_write_json(
        folder.file("ablation.json"),
        {
            "metric": metric,
            "val_metric": val_metric,
            "rows": rows,
            "runs": results,
            "variants": dict(found),
        },
    )
    _write_csv(folder.file("ablation.csv"), rows)
    from expctl.plots.ablation import ablation_figure

    figure = ablation_figure(rows, metric, val_metric, title=f"ablation of {base.spec.name}")
    figure.savefig(folder.file("plots/ablation.png"), dpi=120)
    return AblationOutcome(folder.path, rows, metric, val_metric)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from expctl.runs import atomic_write_text

    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
