"""`expctl evaluate` and `expctl roc --evaluation`: a run's metrics on a variation sample, written
into evaluations/<name>/ with the run's own files untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from test_predict import FEATURES, invoke, jets_frame, trained  # noqa: F401 (the fixture)


def _digests(run: Path) -> dict[str, str]:
    """sha256 of every file of the run but its evaluations/."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.relative_to(run).parts[0] != "evaluations"
    }


def _variation(path: Path, seed: int = 21, n: int = 400) -> pd.DataFrame:
    """Jets of another seed with the mass shifted by 5 % (a 'systematic variation'), weighted."""
    frame = jets_frame(n, seed=seed)
    frame["mass"] *= 1.05
    frame["w"] = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    frame.to_parquet(path)
    return frame


def test_evaluate_writes_metrics_equal_to_sklearn_and_leaves_the_run_alone(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    run = trained["binary"]
    frame = _variation(tmp_path / "shifted.parquet")
    before = _digests(run)
    result = invoke(
        "evaluate", run, tmp_path / "shifted.parquet", "--weight", "w", "--name", "mass_up"
    )
    assert result.exit_code == 0, result.output
    assert _digests(run) == before
    folder = run / "evaluations" / "mass_up"
    metrics = json.loads((folder / "metrics.json").read_text())
    record = json.loads((folder / "evaluation.json").read_text())
    with np.load(folder / "predictions.npz", allow_pickle=False) as npz:
        y, s, w = npz["y_true"], npz["y_score"], npz["weight"]
    # the written predictions are the events' labels, weights and `predict`'s scores
    np.testing.assert_array_equal(y, frame["label"])
    np.testing.assert_array_equal(w, frame["w"])
    import expctl.api

    np.testing.assert_array_equal(s, expctl.api.predict(run, frame)["score"])
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(y, s >= 0.5, sample_weight=w), abs=1e-12
    )
    assert metrics["auc_ci68_low"] <= metrics["auc"] <= metrics["auc_ci68_high"]
    assert np.array(metrics["confusion_matrix"]).sum() == pytest.approx(w.sum())
    assert record["events"] == 400 and record["weight"] == "w" and record["target"] == "label"
    assert (folder / "plots" / "roc.png").is_file() and (
        folder / "plots" / "rejection.png"
    ).is_file()


def test_roc_evaluation_overlays_nominal_and_variation(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    from expctl.views.roc import roc_figure_for

    run = trained["binary"]
    _variation(tmp_path / "var.parquet", seed=22)
    assert invoke("evaluate", run, tmp_path / "var.parquet", "--name", "var22").exit_code == 0
    result = invoke("roc", run, "--evaluation", "var22", "--json", "--bootstrap", "10")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [r.get("evaluation") for r in shown["runs"]] == [None, "var22"]
    assert {r["run"] for r in shown["runs"]} == {run.name}
    metrics = json.loads((run / "evaluations" / "var22" / "metrics.json").read_text())
    nominal = json.loads((run / "metrics.json").read_text())
    aucs = [r["auc"] for r in shown["runs"]]
    assert aucs == pytest.approx([nominal["auc"], metrics["auc"]], abs=1e-12)
    assert Path(shown["figure"]).parent == run / "evaluations" / "var22" / "plots"
    figure, _ = roc_figure_for([run], evaluations=["var22"], bootstrap=10)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any(label.startswith("test split") for label in labels)
    assert any(label.startswith("var22") for label in labels)


def test_root_files_with_a_label_each(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    import uproot

    run = trained["binary"]
    for name, seed in (("sig", 31), ("bkg", 32)):
        frame = jets_frame(120, seed=seed)
        branches = {c: frame[c].to_numpy() for c in FEATURES}
        with uproot.recreate(tmp_path / f"{name}.root") as f:
            f.mktree("Events", {c: v.dtype for c, v in branches.items()}).extend(branches)
    result = invoke("evaluate", run, f"{tmp_path / 'sig.root'}:1", f"{tmp_path / 'bkg.root'}:0")
    assert result.exit_code == 0, result.output
    folder = run / "evaluations" / "sig"  # the name: the first file's stem
    with np.load(folder / "predictions.npz", allow_pickle=False) as npz:
        y, s = npz["y_true"], npz["y_score"]
    np.testing.assert_array_equal(y, [1] * 120 + [0] * 120)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("case", ["name exists", "no target", "label not a class", "not completed"])
def test_bad_input_exits_2_and_leaves_evaluations_unchanged(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    case: str,
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained["binary"], run, ignore=shutil.ignore_patterns("evaluations"))
    _variation(tmp_path / "var.parquet", seed=23, n=100)
    assert invoke("evaluate", run, tmp_path / "var.parquet").exit_code == 0
    if case == "not completed":
        status = json.loads((run / "status.json").read_text())
        (run / "status.json").write_text(json.dumps({**status, "status": "interrupted"}))
    args, message = {
        "name exists": ([tmp_path / "var.parquet"], "evaluation 'var' exists"),
        "no target": (
            [tmp_path / "var.parquet", "--target", "lable", "--name", "b"],
            "(did you mean 'label'?)",
        ),
        "label not a class": (
            [f"{tmp_path / 'var.parquet'}:7", "--name", "c"],
            "are not classes of the run",
        ),
        "not completed": ([tmp_path / "var.parquet", "--name", "d"], "the run is interrupted"),
    }[case]
    before = sorted(p.name for p in (run / "evaluations").iterdir())
    result = invoke("evaluate", run, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in (run / "evaluations").iterdir()) == before == ["var"]
