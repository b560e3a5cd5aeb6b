"""`expctl check`: the metric regression gate (pass, fail, malformed, missing metrics, update)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from expctl.cli import cli
from expctl.views.check import Baseline, Verdict, check, default_tolerance, updated_baseline


def _check(run: Path, baseline: Path, *args: str):
    return CliRunner().invoke(cli, ["check", str(run), "--baseline", str(baseline), *args])


def _baseline(path: Path, metrics: dict) -> Path:
    path.write_text(json.dumps({"metrics": metrics}))
    return path


def test_verdicts_by_hand() -> None:
    # higher is better: 0.90 vs 0.91 ± 0.01 passes (exactly at the tolerance), 0.899 fails
    assert Verdict("auc", 0.91, 0.01, True, 0.90).passed
    assert not Verdict("auc", 0.91, 0.01, True, 0.899).passed
    assert Verdict("auc", 0.91, 0.01, True, 0.95).state == "better"
    # lower is better: a larger loss is worse
    assert Verdict("loss", 0.30, 0.015, False, 0.31).passed
    assert not Verdict("loss", 0.30, 0.015, False, 0.32).passed
    assert Verdict("loss", 0.30, 0.015, False, 0.32).delta == pytest.approx(-0.02)
    assert not Verdict("auc", 0.5, 1.0, True, math.nan).passed  # NaN never passes
    assert default_tolerance("auc", 0.9) == 0.01
    assert default_tolerance("heads.signal.accuracy", 0.9) == 0.01
    assert default_tolerance("loss", 0.4) == pytest.approx(0.02)


def test_nested_metrics_and_update_keep_custom_tolerances() -> None:
    metrics = {"auc": 0.9, "loss": 0.3, "heads": {"energy": {"rmse": 2.0}}}
    base = Baseline.model_validate(
        {
            "metrics": {
                "heads.energy.rmse": {"value": 1.9, "tolerance": 0.2, "higher_is_better": False}
            }
        }
    )
    (verdict,) = check(metrics, base, "b.json")
    assert verdict.value == 2.0 and verdict.passed
    again = updated_baseline(metrics, base)
    assert again["metrics"]["heads.energy.rmse"] == {
        "value": 2.0,
        "tolerance": 0.2,
        "higher_is_better": False,
    }
    fresh = updated_baseline(metrics, None)["metrics"]
    assert fresh["auc"] == {"value": 0.9, "tolerance": 0.01, "higher_is_better": True}
    assert fresh["loss"]["higher_is_better"] is False


def test_update_then_pass_then_fail(tmp_path: Path, trained_runs) -> None:
    run = trained_runs["binary"]
    baseline = tmp_path / "baseline.json"
    made = _check(run, baseline, "--update")
    assert made.exit_code == 0, made.output
    data = json.loads(baseline.read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert data["metrics"]["auc"]["value"] == metrics["auc"]
    passed = _check(run, baseline)
    assert passed.exit_code == 0 and "passed" in passed.output, passed.output
    # demand more AUC than the run has: exit 1 and the table names the metric
    data["metrics"]["auc"]["value"] = metrics["auc"] + 0.05
    baseline.write_text(json.dumps(data))
    failed = _check(run, baseline)
    assert failed.exit_code == 1, failed.output
    assert "FAILED: auc worse" in failed.output
    as_json = json.loads(_check(run, baseline, "--json").output)
    assert as_json["passed"] is False
    assert [m["state"] for m in as_json["metrics"] if m["metric"] == "auc"] == ["WORSE"]


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ('{"metrics": {"auc": {"value": 0.9, "tolerance": 0.01}', "not valid JSON"),
        ('{"metrics": {}}', "not a baseline"),
        (
            '{"metrics": {"auc": {"value": 0.9, "tolerance": -1, "higher_is_better": true}}}',
            "tolerance",
        ),
        (
            '{"metrics": {"auc": {"value": "high", "tolerance": 0, "higher_is_better": true}}}',
            "value",
        ),
        ("[1, 2]", "not a baseline"),
        (
            '{"metrics": {"aucc": {"value": 0.9, "tolerance": 0.01, "higher_is_better": true}}}',
            "names metric 'aucc', which the run does not have",
        ),
    ],
)
def test_bad_baselines_exit_2(tmp_path: Path, trained_runs, content: str, expect: str) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text(content)
    result = _check(trained_runs["binary"], baseline)
    assert result.exit_code == 2, result.output
    assert expect in result.output and str(baseline) in result.output
    assert baseline.read_text() == content  # never rewritten


def test_missing_baseline_says_how_to_make_one(tmp_path: Path, trained_runs) -> None:
    result = _check(trained_runs["binary"], tmp_path / "none.json")
    assert result.exit_code == 2 and "--update" in result.output


def test_check_never_imports_tensorflow(tmp_path: Path, trained_runs) -> None:
    from conftest import heavy_imports

    baseline = tmp_path / "b.json"
    assert _check(trained_runs["binary"], baseline, "--update").exit_code == 0
    assert heavy_imports(["check", str(trained_runs["binary"]), "--baseline", str(baseline)]) == ""


def test_direction_comes_from_the_catalogue() -> None:
    from expctl.errors import BadInputError

    metrics = {"auc": 0.9, "rejection_at_50": 20.0, "ks_pvalue_signal": 0.3, "brier": 0.1}

    def baseline(**entries: dict) -> Baseline:
        return Baseline.model_validate({"metrics": entries})

    # no higher_is_better: the catalogue's direction (rejection: higher, brier: lower)
    verdicts = check(
        metrics,
        baseline(
            rejection_at_50={"value": 25.0, "tolerance": 1.0},
            brier={"value": 0.05, "tolerance": 0.01},
        ),
        "b.json",
    )
    assert [(v.higher_is_better, v.passed) for v in verdicts] == [(True, False), (False, False)]
    # a contradiction is refused, naming the catalogue's direction
    wrong = baseline(rejection_at_50={"value": 25.0, "tolerance": 1.0, "higher_is_better": False})
    with pytest.raises(BadInputError, match="better higher in expctl's metric catalogue"):
        check(metrics, wrong, "b.json")
    # a metric with no direction needs one in the baseline
    with pytest.raises(BadInputError, match=r"'ks_pvalue_signal'.*higher_is_better"):
        check(metrics, baseline(ks_pvalue_signal={"value": 0.2, "tolerance": 0.0}), "b.json")
    given = baseline(ks_pvalue_signal={"value": 0.2, "tolerance": 0.0, "higher_is_better": True})
    assert check(metrics, given, "b.json")[0].passed
    # --update writes the catalogue's direction (fixing a stale entry)
    again = updated_baseline(metrics, wrong)["metrics"]["rejection_at_50"]
    assert again == {"value": 20.0, "tolerance": 1.0, "higher_is_better": True}
    assert updated_baseline(metrics, given)["metrics"]["ks_pvalue_signal"]["higher_is_better"]
