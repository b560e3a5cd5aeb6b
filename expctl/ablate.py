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
from expctl.evaluation import catalogue
from expctl.runs import MissingColumnError, RunView, layout


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
        lambda s: bool(s.train.label_smoothing),  # a number > 0, or {sigma}
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

#: What is compared per task: the main test metric, and the validation log read at the best
#: epoch. Not val_loss: it includes the L1/L2 penalties, so removing them would "improve" it by
#: the penalty itself. Which way each is better is the metric catalogue's to say.
METRICS: dict[str, tuple[str, str]] = {
    "binary": ("auc", "val_auc"),
    "multiclass": ("accuracy", "val_accuracy"),
    "regression": ("r2", "val_mae"),
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


def _higher_is_better(metric: str, what: str) -> bool:
    better = catalogue.higher_is_better(metric)
    if better is None:
        raise BadInputError(catalogue.no_direction_message(metric, what))
    return better


def summarise(
    results: dict[str, list[dict[str, float]]],
    metric: str,
    val_metric: str = "val_auc",
    val_higher_is_better: bool | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ablation table, ranked: per variant the mean ± sd over seeds of the validation
    metric (at the best epoch) and the test metric, and each regulariser's effect (with it minus
    without it, signed so that positive means it helps) with its standard error; strongest first.

    The directions of `metric` and `val_metric` come from the metric catalogue
    (`val_higher_is_better` overrides the validation one); BadInputError for one with none.
    """
    if val_higher_is_better is None:
        val_higher_is_better = _higher_is_better(val_metric, "ablate's validation metric")
    full = results["full"]
    full_val = _mean_sd([r["val"] for r in full])
    full_test = _mean_sd([r["test"] for r in full])
    val_sign = 1.0 if val_higher_is_better else -1.0
    test_sign = 1.0 if _higher_is_better(metric, "ablate's test metric") else -1.0
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
            row["val_effect"] = val_sign * (full_val[0] - val[0])
            row["val_effect_se"] = math.sqrt(full_val[1] ** 2 / n + val[1] ** 2 / m)
            row["test_effect"] = test_sign * (full_test[0] - test[0])
            row["test_effect_se"] = math.sqrt(full_test[1] ** 2 / n + test[1] ** 2 / m)
        rows.append(row)
    ranked = sorted(
        rows[1:], key=lambda r: -r["val_effect"] if math.isfinite(r["val_effect"]) else math.inf
    )
    return [rows[0], *ranked]


def val_at_best(run_dir: Path, column: str) -> float:
    """A validation log of a run at its best epoch (its last epoch without one); NaN if absent."""
    try:
        return RunView(run_dir).value_at_best(column)
    except MissingColumnError:
        return math.nan


def _pm(value: float, spread: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:+.4f} ± {spread:.4f}" if math.isfinite(spread) else f"{value:+.4f}"


@dataclass(frozen=True)
class AblationOutcome:
    """An ablation's directory, its ranked rows (`summarise`) and the metrics compared."""

    path: Path
    rows: list[dict[str, Any]]
    metric: str
    val_metric: str

    @property
    def lines(self) -> list[str]:
        """The table `expctl ablate` prints: the full spec, then each regulariser's effects."""
        metric, val, full = self.metric, self.val_metric, self.rows[0]
        lines = [
            f"full spec: {val} {full[val]:.4f} at the best epoch, test {metric} "
            f"{full[f'test_{metric}']:.4f} ({full['seeds']} seed(s))",
            f"{'regulariser':<18} {'effect on ' + val:>22} {'effect on test ' + metric:>24}",
        ]
        for row in self.rows[1:]:
            lines.append(
                f"{row['variant'].removeprefix('no '):<18} "
                f"{_pm(row['val_effect'], row['val_effect_se']):>22} "
                f"{_pm(row['test_effect'], row['test_effect_se']):>24}"
            )
        lines.append("(effect > 0: the regulariser helps; ranked by the validation effect)")
        lines.append(f"ablation directory: {self.path}")
        return lines


def run_ablation(
    spec_path: str | Path,
    output_dir: str | Path = "outputs",
    repeat: int = 1,
    overrides: tuple[str, ...] | list[str] = (),
    echo: Callable[[str], None] = lambda _: None,
) -> AblationOutcome:
    """Train every variant `repeat` times (seeds seed, seed+1, ...) and write the ablation.

    Writes `<output_dir>/<id>-ablate-<name>/`: ablation.json/.csv, plots/ablation.png and every
    run under runs/. `echo` gets a line per run. Bad input (a spec without regularisers, data
    that does not fit) raises before anything is written.
    """
    from expctl.data import prepare
    from expctl.runner import check_against_data, run
    from expctl.runs import RunDir, atomic_save, atomic_write_json, atomic_write_text
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
    metric, val_metric = METRICS[dataset.task]

    folder = RunDir.create(Path(output_dir), f"ablate-{base.spec.name}")
    atomic_write_text(folder.file("base_spec.yaml"), resolved_yaml(base.spec))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in found}
    runs_dir = folder.path / "runs"
    for (name, _), spec in loaded.items():
        outcome = run(spec, runs_dir)
        results[name].append(
            {
                "val": val_at_best(outcome.run_dir, val_metric),
                "test": float(outcome.metrics.get(metric, math.nan)),
                "run": outcome.run_dir.name,
            }
        )
        echo(f"{name:<20} seed {spec.spec.seed}: test {metric} {outcome.metrics.get(metric):.4f}")
    rows = summarise(results, metric, val_metric)
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
    atomic_save(
        layout.plot_path(folder.path, "ablation.png"), lambda tmp: figure.savefig(tmp, dpi=120)
    )
    return AblationOutcome(folder.path, rows, metric, val_metric)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from expctl.runs import atomic_write_text

    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
