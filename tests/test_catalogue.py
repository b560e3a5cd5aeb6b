"""The metric catalogue against the views: every metric a run writes is in the catalogue, and
`compare --sort METRIC` and `check` judge it the catalogue's way (or refuse it for no direction).

The metric names are taken from the writers themselves (`evaluate`, `binary_diagnostics`, the
bias/variance decomposition on tiny arrays), so a metric added to a writer without a catalogue
entry fails `test_every_written_metric_is_in_the_catalogue`. No training.

A sweep on a metric's validation counterpart (`val_<metric>`) is checked in
tests/test_directions.py; `written_metrics()` here is the list to check it against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.evaluation import catalogue, overtraining_test
from expctl.evaluation.biasvar import decompose, zero_one
from expctl.evaluation.tasks import ADVERSARIAL_KEYS, binary_diagnostics, evaluate
from expctl.runs import atomic_write_json, atomic_write_text, layout
from expctl.views.compare import POINT_METRICS

HEADS = ("signal", "energy")
#: Numbers the training loop and the techniques write beside the test metrics (runner,
#: training/predict.technique_metrics).
TRAINING_KEYS = ("epochs_trained", "best_epoch", "stopped_epoch", "restored_best")
TECHNIQUE_KEYS = ("sparsity", "target_sparsity", "adversarial_epsilon")


def _binary() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    scores = np.clip(0.3 * y + rng.uniform(0, 0.7, y.size), 0, 1)
    metrics = evaluate("binary", y, scores, 0.5)
    return metrics | binary_diagnostics(y, scores, None, y, scores, 0.5, seed=0)


def _multiclass() -> dict[str, Any]:
    y = np.array([0, 1, 2] * 4)
    return evaluate("multiclass", y, np.full((12, 3), 1 / 3), 0.5)


def _regression() -> dict[str, Any]:
    y = np.linspace(0.0, 1.0, 10)
    return evaluate("regression", y, y + 0.1, 0.5)


def _biasvar_point() -> dict[str, Any]:
    """The numbers of one bias/variance point, as compare names them (zero_one_<key>)."""
    predictions = np.array([[0.1, 0.9, 0.4], [0.3, 0.7, 0.6]])
    y = np.array([0.0, 1.0, 1.0])
    point = {"train_error": 0.1, **decompose(predictions, y, f=y, noise=0.01)}
    labels = (predictions > 0.5).astype(np.int64)
    point |= {f"zero_one_{k}": v for k, v in zero_one(labels, y.astype(np.int64)).items()}
    return point


def written_metrics() -> dict[str, str]:
    """Every number a run (or a bias/variance point) writes, by name -> the kind of run."""
    out: dict[str, str] = {}
    for kind, metrics in (
        ("binary", _binary()),
        ("multiclass", _multiclass()),
        ("regression", _regression()),
    ):
        for key, value in metrics.items():
            if not isinstance(value, list):  # the confusion matrix
                out.setdefault(key, kind)
        for key in ADVERSARIAL_KEYS[kind]:
            out.setdefault(f"adversarial_{key}", kind)
    for head, metrics in zip(HEADS, (_binary(), _regression()), strict=True):
        for key, value in metrics.items():
            if not isinstance(value, list):
                out[f"heads.{head}.{key}"] = "multitask"
    out |= dict.fromkeys((*TRAINING_KEYS, *TECHNIQUE_KEYS), "any")
    out |= dict.fromkeys(_biasvar_point(), "biasvar")
    return out


WRITTEN = written_metrics()
#: The test metrics (not settings or bookkeeping): each one is sorted and gated below.
METRICS = sorted(k for k in WRITTEN if catalogue.is_metric(k))


def test_the_writers_write_what_the_issue_lists() -> None:
    """The families of issue 14's acceptance 2 are all among the written metrics."""
    for name in (
        "auc",
        "accuracy",
        "r2",
        "rmse",
        "brier",
        "rejection_at_50",
        "rejection_at_90",
        "ks_pvalue_signal",
        "ks_statistic_background",
        "auc_ci68_low",
        "adversarial_auc",
        "adversarial_rmse",
        "sparsity",
        "heads.signal.auc",
        "heads.energy.r2",
        "bias2",
        "expected_error_noiseless",
        "zero_one_net_variance",
    ):
        assert name in WRITTEN, name
    assert set(overtraining_test([0.2, 0.8], [0, 1], [0.3, 0.7], [0, 1])) <= set(WRITTEN)


def test_every_written_metric_is_in_the_catalogue() -> None:
    unknown = [k for k in WRITTEN if catalogue.lookup(k) is None]
    assert unknown == [], f"add these to expctl/evaluation/catalogue.py: {unknown}"


def test_every_biasvar_point_metric_is_shown_by_compare() -> None:
    point = {k for k, kind in WRITTEN.items() if kind == "biasvar"}
    shown = {*POINT_METRICS, *(k for k in point if k.startswith("zero_one_"))}
    assert point <= shown


# ------------------------------------------------------------------------- run directories


def _run(folder: Path, run_id: str, metrics: dict[str, Any], dropout: float = 0.1) -> Path:
    """A completed run directory with these metrics, written with expctl.runs' writers."""
    path = folder / run_id
    path.mkdir(parents=True)
    spec = {"name": "m", "seed": 1, "model": {"dropout": dropout}}
    atomic_write_text(path / layout.SPEC, yaml.safe_dump(spec))
    atomic_write_json(path / layout.STATUS, {"status": "completed", "name": "m"})
    atomic_write_json(path / layout.METRICS, metrics)
    return path


def _biasvar(folder: Path, run_id: str, point: dict[str, Any]) -> Path:
    """A completed bias/variance experiment directory with one point."""
    path = folder / run_id
    path.mkdir(parents=True)
    atomic_write_text(path / layout.SPEC, yaml.safe_dump({"name": "bv", "seed": 1}))
    status = {"status": "completed", "name": "bv", "kind": "biasvar"}
    atomic_write_json(path / layout.STATUS, status)
    zero = {k.removeprefix("zero_one_"): v for k, v in point.items() if k.startswith("zero_one_")}
    row = {k: v for k, v in point.items() if not k.startswith("zero_one_")}
    atomic_write_json(path / layout.DECOMPOSITION, {"points": [{**row, "zero_one": zero}]})
    return path


def _nested(name: str, value: float) -> dict[str, Any]:
    """metrics.json holding `name` (a head's metric under `heads`)."""
    if name.startswith("heads."):
        _, head, metric = name.split(".", 2)
        return {"heads": {head: {"task": "binary", metric: value}}}
    return {name: value}


LOW, HIGH = 0.3, 0.6


def _pair(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """(folder, run with the low value, run with the high value): they differ only in `name`."""
    folder = tmp_path / "runs"
    if WRITTEN[name] == "biasvar":
        low = _biasvar(folder, "20260101-000000-bv-aaaaaa", {name: LOW})
        high = _biasvar(folder, "20260102-000000-bv-bbbbbb", {name: HIGH})
    else:
        low = _run(folder, "20260101-000000-m-aaaaaa", _nested(name, LOW))
        high = _run(folder, "20260102-000000-m-bbbbbb", _nested(name, HIGH))
    return folder, low, high


def _check(run: Path, name: str, tmp_path: Path, **entry: Any):
    baseline = tmp_path / "baseline.json"
    value = {"value": (LOW + HIGH) / 2, "tolerance": 0.0, **entry}
    baseline.write_text(json.dumps({"metrics": {name: value}}))
    return CliRunner().invoke(cli, ["check", str(run), "--baseline", str(baseline)])


@pytest.mark.parametrize("name", METRICS)
def test_compare_sorts_best_first_by_the_catalogue(tmp_path: Path, name: str) -> None:
    folder, low, high = _pair(tmp_path, name)
    result = CliRunner().invoke(
        cli, ["compare", str(folder), "--sort", name, "--format", "json", "--no-group"]
    )
    better = catalogue.direction(name)
    if better is None:
        assert result.exit_code == 2, result.output
        assert "no better direction" in result.output or "not in expctl's" in result.output
        assert f"+{name}" in result.output and f"-{name}" in result.output
        return
    assert result.exit_code == 0, result.output
    ids = [row["id"] for row in json.loads(result.stdout)["rows"]]
    best = high if better == "higher" else low
    assert ids[0] == best.name, (name, better, ids)
    assert [
        r["id"]
        for r in json.loads(
            CliRunner()
            .invoke(cli, ["compare", str(folder), "--sort", f"+{name}", "--json", "--no-group"])
            .stdout
        )["rows"]
    ] == [low.name, high.name]


@pytest.mark.parametrize("name", [m for m in METRICS if WRITTEN[m] != "biasvar"])
def test_check_judges_the_catalogue_way(tmp_path: Path, name: str) -> None:
    _, low, high = _pair(tmp_path, name)
    better = catalogue.direction(name)
    if better is None:
        refused = _check(high, name, tmp_path)
        assert refused.exit_code == 2, refused.output
        assert "higher_is_better" in refused.output and name in refused.output
        return
    best, worst = (high, low) if better == "higher" else (low, high)
    assert _check(best, name, tmp_path).exit_code == 0
    failed = _check(worst, name, tmp_path)
    assert failed.exit_code == 1 and f"FAILED: {name} worse" in failed.output


@pytest.mark.parametrize("name", [m for m in METRICS if WRITTEN[m] == "biasvar"])
def test_check_judges_biasvar_metrics_the_catalogue_way(tmp_path: Path, name: str) -> None:
    """A point's numbers are not in a metrics.json; the gate's direction for the name still
    agrees with compare's (the same catalogue)."""
    folder = tmp_path / "runs"
    low = _run(folder, "20260101-000000-m-aaaaaa", {name: LOW})
    high = _run(folder, "20260102-000000-m-bbbbbb", {name: HIGH})
    better = catalogue.direction(name)
    if better is None:
        assert _check(high, name, tmp_path).exit_code == 2
        return
    best, worst = (high, low) if better == "higher" else (low, high)
    assert _check(best, name, tmp_path).exit_code == 0
    assert _check(worst, name, tmp_path).exit_code == 1


def test_compare_sort_rejection_at_50_puts_the_higher_rejection_first(tmp_path: Path) -> None:
    """The bug of issue 14: the old suffix list sorted rejection_at_50 ascending (worst first)."""
    folder = tmp_path / "runs"
    _run(folder, "20260101-000000-m-aaaaaa", {"auc": 0.9, "rejection_at_50": 12.0}, 0.1)
    _run(folder, "20260102-000000-m-bbbbbb", {"auc": 0.9, "rejection_at_50": 40.0}, 0.2)
    _run(folder, "20260103-000000-m-cccccc", {"auc": 0.9, "rejection_at_50": 25.0}, 0.3)
    result = CliRunner().invoke(
        cli, ["compare", str(folder), "--sort", "rejection_at_50", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["rejection_at_50_mean"] for r in rows] == [40.0, 25.0, 12.0]
    table = CliRunner().invoke(cli, ["compare", str(folder), "--sort", "rejection_at_50"])
    assert table.stdout.splitlines()[1].startswith("20260102-000000-m-bbbbbb")


def test_a_metric_without_direction_needs_a_sign(tmp_path: Path) -> None:
    folder, low, high = _pair(tmp_path, "ks_pvalue_signal")
    refused = CliRunner().invoke(cli, ["compare", str(folder), "--sort", "ks_pvalue_signal"])
    assert refused.exit_code == 2
    assert "has no better direction" in refused.output and "+ks_pvalue_signal" in refused.output
    signed = CliRunner().invoke(
        cli, ["compare", str(folder), "--sort", "-ks_pvalue_signal", "--json", "--no-group"]
    )
    assert [r["id"] for r in json.loads(signed.stdout)["rows"]] == [high.name, low.name]
    # spec keys and info columns keep sorting ascending without a sign
    by_id = CliRunner().invoke(
        cli, ["compare", str(folder), "--sort", "id", "--json", "--no-group"]
    )
    assert [r["id"] for r in json.loads(by_id.stdout)["rows"]] == [low.name, high.name]
