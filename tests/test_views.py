"""`expctl roc` and `expctl show` on real (tiny) runs: numbers equal references, no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score, roc_curve

from expctl.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_roc_json_equals_sklearn(trained_runs) -> None:
    run = trained_runs["binary"]
    result = invoke("roc", str(run), "--json", "--working-points", "0.5,0.9")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (entry,) = data["runs"]
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y, s = npz["y_true"], npz["y_score"]
    assert entry["run"] == run.name
    assert entry["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    lo, hi = entry["auc_ci68"]
    assert lo < entry["auc"] < hi
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    for wp, target in zip(entry["working_points"], (0.5, 0.9), strict=True):
        i = int(np.argmax(tpr >= target))
        assert wp["signal_efficiency"] == pytest.approx(tpr[i], abs=1e-12)
        assert wp["background_efficiency"] == pytest.approx(fpr[i], abs=1e-12)
        assert wp["threshold"] == pytest.approx(thresholds[i], abs=1e-12)
    assert Path(data["figure"]) == run / "plots" / "roc.png"


def test_roc_overlay_hep_and_table(trained_runs, tmp_path: Path) -> None:
    run = trained_runs["binary"]
    out = tmp_path / "hep.png"
    result = invoke(
        "roc", str(run), str(run), "--hep", "--working-points", "0.5,0.7", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    assert result.output.count("AUC") == 2 and "rejection 1/eff_B" in result.output


def test_roc_by_id_prefix_in_output_dir(trained_runs) -> None:
    run = trained_runs["binary"]
    result = invoke("roc", run.name[:-3], "--output-dir", str(run.parent), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["runs"][0]["run"] == run.name


def test_roc_multiclass_one_vs_rest_and_signal_vs_background(trained_runs) -> None:
    run = trained_runs["multiclass"]
    data = json.loads(invoke("roc", str(run), "--json").output)
    assert [r["curve"] for r in data["runs"]] == [f"{k} vs rest" for k in range(10)]
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y, p = npz["y_true"], npz["y_score"]
    assert data["runs"][3]["auc"] == pytest.approx(roc_auc_score(y == 3, p[:, 3]), abs=1e-9)
    data = json.loads(
        invoke("roc", str(run), "--json", "--signal", "6", "--background", "9").output
    )
    keep = np.isin(y, [6, 9])
    expected = roc_auc_score(y[keep] == 6, p[keep, 6] / (p[keep, 6] + p[keep, 9]))
    assert data["runs"][0]["auc"] == pytest.approx(expected, abs=1e-9)
    bad = invoke("roc", str(run), "--signal", "11", "--background", "9")
    assert bad.exit_code == 2 and "not a class" in bad.output


@pytest.mark.parametrize("ref", ["../../etc", "/etc", "no-such-run"])
def test_roc_refuses_what_is_not_a_run(trained_runs, ref: str) -> None:
    result = invoke("roc", ref, "--output-dir", str(trained_runs["binary"].parent))
    assert result.exit_code == 2


def test_show_text_and_json(trained_runs) -> None:
    run = trained_runs["binary"]
    text = invoke("show", str(run))
    assert text.exit_code == 0, text.output
    for needle in (
        "status    completed",
        "test metrics",
        "auc",
        "best epoch",
        "learning_curves.png",
        "spec",
    ):
        assert needle in text.output
    data = json.loads(invoke("show", str(run), "--json").output)
    assert data["metrics"] == json.loads((run / "metrics.json").read_text())
    assert data["spec"]["name"] == "tiny" and data["status"]["status"] == "completed"


@pytest.mark.parametrize("command", ["roc", "show"])
def test_views_never_import_tensorflow(trained_runs, command: str) -> None:
    run = trained_runs["binary"]
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom expctl.cli import cli\n"
        f"r = CliRunner().invoke(cli, [{command!r}, {str(run)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(','.join(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == ""


def test_roc_uses_event_weights(tmp_path: Path) -> None:
    run = tmp_path / "20260101-000000-weighted-000000"
    (run / "plots").mkdir(parents=True)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    s = rng.normal(size=2000) + y
    w = rng.uniform(0.1, 3.0, 2000)
    np.savez(run / "predictions.npz", y_true=y, y_score=s, weight=w, classes=np.array(["0", "1"]))
    (run / "status.json").write_text('{"status": "completed"}')
    (run / "spec.yaml").write_text("name: weighted\n")
    data = json.loads(invoke("roc", str(run), "--json").output)
    auc = data["runs"][0]["auc"]
    assert auc == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-9)
    assert auc != pytest.approx(roc_auc_score(y, s), abs=1e-6)
