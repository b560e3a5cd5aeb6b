"""Which way is better, asked of the metric catalogue: a sweep's `direction: auto`, early stopping's
and the plateau schedule's `mode: auto`, and ablate's ranking all agree with it.

No training here except the last test (a tiny sweep run from Python, without the CLI).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY, deep_merge

from expctl.errors import BadInputError, SpecError
from expctl.evaluation import catalogue
from expctl.spec.schema import TASK_LOGS, head_monitor_choices, monitor_choices
from expctl.spec.sweep import Document, sweep_from_dict

JET_HEADS = [
    {"name": "signal", "task": "binary", "target": "label"},
    {"name": "energy", "task": "regression", "target": "energy", "loss_weight": 0.5},
    {"name": "digit", "task": "multiclass", "target": "n_constituents"},
]
HEAD_NAMES = [h["name"] for h in JET_HEADS]
HEADS_BASE = deep_merge(TINY, {"model": {"heads": JET_HEADS[:2]}})


def _validation_logs() -> list[tuple[str, tuple[str, ...]]]:
    """Every validation log a run writes to history.csv (per task, and per multitask head)."""
    single = {m for task in TASK_LOGS for m in monitor_choices(task) if m.startswith("val_")}
    heads = [(h["name"], h["task"]) for h in JET_HEADS]
    multi = {m for m in head_monitor_choices(heads) if m.startswith("val_")}
    return [(m, ()) for m in sorted(single)] + [(m, tuple(HEAD_NAMES)) for m in sorted(multi)]


VALIDATION_LOGS = _validation_logs()


def test_the_logs_cover_every_task_and_head_metric() -> None:
    names = {m for m, _ in VALIDATION_LOGS}
    assert {"val_loss", "val_accuracy", "val_auc", "val_mae"} <= names
    assert {"val_signal_auc", "val_energy_mae", "val_energy_loss", "val_digit_accuracy"} <= names


# ------------------------------------------------------------------------------------- sweeps


def _loaded_sweep(tmp_path: Path, metric: str, base: dict[str, Any], **block: Any) -> Any:
    space = {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    sweep = {"method": "random", "trials": 2, "metric": metric, "space": space, **block}
    data = {**base, "sweep": sweep}
    return sweep_from_dict(data, Document(data, "test.yaml"), tmp_path)


def _study_direction(lsweep: Any, tmp_path: Path) -> str:
    """The direction of the Optuna study the sweep itself would open."""
    import optuna

    from expctl.sweep.storage import StorageInfo
    from expctl.sweep.study import load_study

    info = StorageInfo(optuna.storages.InMemoryStorage(), "memory", local=True)
    return load_study(lsweep, info, "s").direction.name.lower()


@pytest.mark.parametrize(("metric", "heads"), VALIDATION_LOGS)
def test_sweep_direction_auto_is_the_catalogues(
    metric: str, heads: tuple[str, ...], tmp_path: Path
) -> None:
    # a multitask base spec with a head of each task: its heads' names are what matter
    base = TINY if not heads else deep_merge(TINY, {"model": {"heads": JET_HEADS}})
    lsweep = _loaded_sweep(tmp_path, metric, base)
    higher = catalogue.higher_is_better(metric.removeprefix("val_"), heads)
    assert higher is not None, f"{metric}: a logged metric must have a direction"
    assert lsweep.maximize is higher
    assert _study_direction(lsweep, tmp_path) == ("maximize" if higher else "minimize")


def test_head_metrics_need_the_heads_of_the_base_spec(tmp_path: Path) -> None:
    lsweep = _loaded_sweep(tmp_path, "val_signal_auc", HEADS_BASE)
    assert lsweep.heads == ["signal", "energy"] and lsweep.maximize is True
    assert _loaded_sweep(tmp_path, "val_energy_mae", HEADS_BASE).maximize is False
    # without heads `signal_auc` is no known metric: refused, not guessed from its ending
    with pytest.raises(
        SpecError, match=re.escape("sweep.direction auto: 'val_signal_auc' is not in")
    ):
        _loaded_sweep(tmp_path, "val_signal_auc", TINY)


def test_an_explicit_direction_wins_and_an_unknown_metric_needs_one(tmp_path: Path) -> None:
    assert _loaded_sweep(tmp_path, "val_loss", TINY, direction="maximize").maximize is True
    assert _loaded_sweep(tmp_path, "val_auc", TINY, direction="minimize").maximize is False
    # the old rule matched substrings: `val_acc` anywhere meant maximise
    with pytest.raises(SpecError) as info:
        _loaded_sweep(tmp_path, "val_accent", TINY)
    assert "test.yaml" in info.value.message and "direction: maximize" in info.value.message
    assert _loaded_sweep(tmp_path, "val_accent", TINY, direction="maximize").maximize is True


def test_sweep_dry_run_refuses_an_unknown_metric_with_direction_auto(tmp_path: Path) -> None:
    from expctl.cli import cli

    data = deep_merge(
        {**TINY},
        {
            "sweep": {
                "method": "random",
                "trials": 2,
                "metric": "val_wobble",
                "space": {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}},
            }
        },
    )
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    line = path.read_text().splitlines().index("  metric: val_wobble") + 1
    assert f"sweep.yaml:{line}: sweep.direction auto: 'val_wobble'" in result.output
    assert "minimize or direction: maximize" in result.output


# ------------------------------------------------------------ early stopping and the plateau


keras = pytest.importorskip("keras")


def _keras_mode(better: str | None) -> str:
    return {"higher": "max", "lower": "min"}[str(better)]


@pytest.mark.parametrize(
    ("monitor", "heads"),
    [(m, ()) for task in TASK_LOGS for m in monitor_choices(task)]
    + [
        (m, tuple(HEAD_NAMES))
        for m in head_monitor_choices([(h["name"], h["task"]) for h in JET_HEADS])
    ],
)
def test_monitor_mode_auto_is_the_catalogues(monitor: str, heads: tuple[str, ...]) -> None:
    from expctl.training.callbacks import monitor_mode

    better = catalogue.direction(monitor, heads)
    assert better is not None, f"{monitor} can be monitored, so it needs a direction"
    assert monitor_mode(monitor, "auto", heads) == _keras_mode(better)
    assert monitor_mode(monitor, "min", heads) == "min"  # an explicit mode is kept


def test_monitor_mode_refuses_a_log_without_direction() -> None:
    from expctl.training.callbacks import monitor_mode

    with pytest.raises(
        SpecError, match=re.escape("train.schedule.monitor with mode auto: 'val_signal_auc'")
    ):
        monitor_mode("val_signal_auc", "auto", key="train.schedule.monitor")  # no heads given
    assert monitor_mode("val_signal_auc", "max") == "max"


def _stub_model(lr: float = 0.1) -> Any:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def test_early_stopping_waits_on_a_head_auc_that_rises(monkeypatch: pytest.MonkeyPatch) -> None:
    """fit.py's EarlyStopping, built as train() builds it, fed hand-written epoch logs."""
    from expctl.training.callbacks import monitor_mode

    def stopping(monitor: str, heads: tuple[str, ...]) -> Any:
        callback = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=1, mode=monitor_mode(monitor, "auto", heads)
        )
        callback.set_model(_stub_model())
        callback.on_train_begin()
        return callback

    rising = [0.60, 0.70, 0.80, 0.90]
    auc = stopping("val_signal_auc", ("signal", "energy"))
    for epoch, value in enumerate(rising):
        auc.on_epoch_end(epoch, {"val_signal_auc": value})
    assert not auc.model.stop_training and auc.best == 0.90  # a rising AUC improves
    mae = stopping("val_energy_mae", ("signal", "energy"))
    for epoch, value in enumerate(rising):
        mae.on_epoch_end(epoch, {"val_energy_mae": value})
    assert mae.model.stop_training and mae.best == 0.60  # a rising MAE does not


def test_plateau_auto_mode_follows_the_catalogue_for_a_head_metric() -> None:
    from expctl.spec.schedules import PlateauSchedule
    from expctl.training.schedules import make_schedule

    def plateau(monitor: str, values: list[float]) -> float:
        spec = PlateauSchedule(monitor=monitor, patience=1)
        lr, (callback,) = make_schedule(spec, 0.1, 10, 5, heads=["signal", "energy"])
        assert callback.mode == _keras_mode(catalogue.direction(monitor, ["signal", "energy"]))
        model = _stub_model(lr)
        callback.set_model(model)
        callback.on_train_begin()
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {monitor: value})
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    assert plateau("val_signal_auc", [0.80, 0.85, 0.90]) == pytest.approx(0.1)  # improving
    assert plateau("val_signal_auc", [0.90, 0.85]) == pytest.approx(0.05)  # worse: one drop
    assert plateau("val_energy_loss", [0.90, 0.85, 0.80]) == pytest.approx(0.1)
    with pytest.raises(SpecError, match=re.escape("train.schedule.monitor")):
        make_schedule(PlateauSchedule(monitor="val_signal_auc"), 0.1, 10, 5)  # heads unknown


# ---------------------------------------------------------------------------------- ablate


def test_ablate_compares_metrics_the_catalogue_directs() -> None:
    from expctl.ablate import METRICS

    old = {"binary": True, "multiclass": True, "regression": False}  # the former hard-coded table
    for task, (metric, val_metric) in METRICS.items():
        assert catalogue.higher_is_better(metric) is True, metric
        assert catalogue.higher_is_better(val_metric) is old[task], val_metric


def test_ablate_ranks_by_the_catalogues_direction() -> None:
    from expctl.ablate import summarise

    results = {
        "full": [{"val": 1.0, "test": 0.5}],
        "no l2": [{"val": 1.5, "test": 0.4}],  # MAE up without l2: l2 helps
        "no dropout": [{"val": 0.8, "test": 0.6}],  # MAE down without dropout: it hurts
    }
    rows = summarise(results, "r2", "val_mae")  # no direction given: the catalogue's
    assert [r["variant"] for r in rows] == ["full", "no l2", "no dropout"]
    assert rows[1]["val_effect"] == pytest.approx(0.5)
    assert rows[1]["test_effect"] == pytest.approx(0.1)
    # the test metric's direction is the catalogue's too: rmse lower is better
    rmse = summarise(results, "rmse", "val_mae")
    assert rmse[1]["test_effect"] == pytest.approx(-0.1)
    with pytest.raises(BadInputError, match="no better direction"):
        summarise(results, "r2", "val_ks_pvalue_signal")


# --------------------------------------------------------------------- a sweep from Python


def test_run_sweep_from_python_without_the_cli(tmp_path: Path) -> None:
    from expctl.sweep import run_sweep

    data = {
        **TINY,
        "sweep": {
            "method": "grid",
            "metric": "val_auc",
            "space": {"model.hidden": {"type": "choice", "values": [[4], [8]]}},
        },
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lines: list[str] = []
    result = run_sweep(path, output_dir=tmp_path / "out", smoke=True, echo=lines.append)
    assert result.error is None, lines + result.lines
    assert result.counts == {"COMPLETE": 2} and not result.work_left
    assert result.sweep_dir == tmp_path / "out" / "tiny" and result.maximize is True
    assert result.best is not None and result.best.params["model.hidden"] in ([4], [8])
    assert math.isfinite(result.best.value) and len(result.best.runs) == 1
    assert result.best_spec is not None and result.best_spec.is_file()
    assert result.table.is_file()
    assert lines[0].startswith(f"sweep {result.sweep_dir}: grid, 2 trials, 1 worker")
    assert any(line.startswith("trial 1 [worker 0]: COMPLETE") for line in lines)
    assert result.lines[0] == "2 trials: 2 COMPLETE"
