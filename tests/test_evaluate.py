"""`expctl evaluate` and `expctl roc --evaluation`: a run's metrics on a variation sample, written
into evaluations/<name>/ with the run's own files untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
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


# ------------------------------------------------------------------ compare --evaluations


def _evaluation(run: Path, name: str, metrics: dict[str, object]) -> None:
    """An evaluation folder as `expctl evaluate` writes it (its metrics and record)."""
    folder = run / "evaluations" / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "evaluation.json").write_text(json.dumps({"name": name, "events": 100}))


def _compare(*args: object) -> dict[str, object]:
    result = invoke("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compare_evaluations_rows_follow_their_run_and_group_by_name(tmp_path: Path) -> None:
    from test_compare import make_run

    # two seeds of one configuration, each evaluated on mass_up; the first also on herwig
    first = make_run(tmp_path, "20260101-000000-quick-aaaaaa", {"seed": 1}, auc=0.80, loss=0.40)
    second = make_run(tmp_path, "20260101-000001-quick-bbbbbb", {"seed": 2}, auc=0.84, loss=0.44)
    _evaluation(first, "mass_up", {"auc": 0.70, "loss": 0.50, "accuracy": 0.6})
    _evaluation(first, "herwig", {"auc": 0.75, "loss": 0.47})
    _evaluation(second, "mass_up", {"auc": 0.72, "loss": 0.52, "accuracy": 0.62})
    (tmp_path / first.name / "evaluations" / ".tmp-unfinished").mkdir()  # not listed

    plain = _compare(tmp_path, "--no-group")
    assert "evaluation" not in plain["columns"] and len(plain["rows"]) == 2

    shown = _compare(tmp_path, "--no-group", "--evaluations")
    rows = {row["id"]: row for row in shown["rows"]}
    assert [row["id"] for row in shown["rows"]] == [
        first.name,
        f"{first.name}:herwig",  # evaluations by name, after their run
        f"{first.name}:mass_up",
        second.name,
        f"{second.name}:mass_up",
    ]
    assert [row["evaluation"] for row in shown["rows"]] == [
        "test split",
        "herwig",
        "mass_up",
        "test split",
        "mass_up",
    ]
    assert shown["columns"][3] == "evaluation" and shown["differing_keys"][0] == "evaluation"
    assert rows[f"{first.name}:mass_up"]["auc"] == 0.70
    assert rows[f"{first.name}:herwig"]["accuracy"] is None  # not in its metrics.json
    assert rows[f"{first.name}:mass_up"]["best_epoch"] is None  # no training of its own
    assert rows[f"{first.name}:mass_up"]["duration_s"] is None
    assert rows[first.name]["auc"] == 0.80 and rows[first.name]["best_epoch"] == 4

    grouped = {row["evaluation"]: row for row in _compare(tmp_path, "--evaluations")["rows"]}
    assert set(grouped) == {"test split", "herwig", "mass_up"}
    assert grouped["mass_up"]["ids"] == [f"{first.name}:mass_up", f"{second.name}:mass_up"]
    assert grouped["mass_up"]["n_runs"] == 2
    assert grouped["mass_up"]["auc_mean"] == pytest.approx(0.71, abs=1e-12)
    assert grouped["mass_up"]["auc_std"] == pytest.approx(np.std([0.70, 0.72], ddof=1))
    assert grouped["test split"]["auc_mean"] == pytest.approx(0.82, abs=1e-12)
    assert grouped["herwig"]["n_runs"] == 1

    # the catalogue's direction: loss sorts lowest first; a filter picks one variation
    by_loss = _compare(tmp_path, "--no-group", "--evaluations", "--sort", "loss")
    assert [row["loss"] for row in by_loss["rows"]] == [0.40, 0.44, 0.47, 0.50, 0.52]
    only = _compare(tmp_path, "--no-group", "--evaluations", "--filter", "evaluation=mass_up")
    assert [row["auc"] for row in only["rows"]] == [0.70, 0.72]

    text = invoke("compare", tmp_path, "--no-group", "--evaluations")
    assert f"{first.name}:mass_up" in text.output and "test split" in text.output


def test_compare_evaluations_warns_of_an_unreadable_evaluation(tmp_path: Path) -> None:
    from test_compare import make_run

    run = make_run(tmp_path, "20260101-000000-quick-aaaaaa")
    folder = run / "evaluations" / "broken"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text("{not json")
    result = invoke("compare", run, "--evaluations", "--no-group", "--format", "csv", "--strict")
    assert result.exit_code == 1  # --strict: a warning was given
    assert f"{folder / 'metrics.json'}" in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[2].startswith(f"{run.name}:broken,")


def test_compare_evaluations_of_a_trained_run(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    import shutil

    run = tmp_path / "outputs" / trained["binary"].name
    shutil.copytree(trained["binary"], run, ignore=shutil.ignore_patterns("evaluations"))
    _variation(tmp_path / "up.parquet", seed=24, n=300)
    assert invoke("evaluate", run, tmp_path / "up.parquet", "--name", "up").exit_code == 0
    shown = _compare(run, "--evaluations")
    nominal = json.loads((run / "metrics.json").read_text())
    varied = json.loads((run / "evaluations" / "up" / "metrics.json").read_text())
    assert [row["ids"] for row in shown["rows"]] == [[run.name], [f"{run.name}:up"]]
    assert [row["auc_mean"] for row in shown["rows"]] == [nominal["auc"], varied["auc"]]
    result = invoke(
        "compare", run, "--evaluations", "--plot", "learning_curves", "--out",
        tmp_path / "lc.png", "--strict",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # the evaluation row draws no curve, no warning
    result = invoke("compare", run, "--evaluations", "--plot", "roc", "--out", tmp_path / "roc.png")
    assert result.exit_code == 0 and (tmp_path / "roc.png").is_file(), result.output


# ------------------------------------------------------------------------ multitask runs


def test_evaluate_multitask_gives_every_heads_metrics(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    import expctl.api

    run = tmp_path / "run"
    shutil.copytree(trained["multitask"], run, ignore=shutil.ignore_patterns("evaluations"))
    frame = _variation(tmp_path / "shifted.parquet", seed=25, n=300)
    result = invoke("evaluate", run, tmp_path / "shifted.parquet", "--weight", "w", "--name", "up")
    assert result.exit_code == 0, result.output
    assert "head signal: auc" in result.output and "head energy: rmse" in result.output
    folder = run / "evaluations" / "up"
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "predictions.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    scores = expctl.api.predict(run, frame)
    w = frame["w"].to_numpy()
    # the written predictions: each head's targets (its own column) and `predict`'s scores
    np.testing.assert_array_equal(arrays["y_true_signal"], frame["label"])
    np.testing.assert_array_equal(arrays["y_score_signal"], scores["score_signal"])
    np.testing.assert_array_equal(arrays["y_true_energy"], frame["energy"])
    np.testing.assert_array_equal(arrays["y_score_energy"], scores["score_energy"])
    np.testing.assert_array_equal(arrays["y_score"], scores["score_signal"])  # the main head
    # the run's metrics.json layout: heads by name, the main head's also at the top level
    assert set(metrics["heads"]) == {"signal", "energy"}
    signal, energy = metrics["heads"]["signal"], metrics["heads"]["energy"]
    assert (signal["task"], signal["target"]) == ("binary", "label")
    assert (energy["task"], energy["target"]) == ("regression", "energy")
    y, s = frame["label"].to_numpy(), scores["score_signal"].to_numpy()
    assert signal["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert metrics["auc"] == signal["auc"]
    e, p = frame["energy"].to_numpy(), scores["score_energy"].to_numpy()
    mse = mean_squared_error(e, p, sample_weight=w)
    assert energy["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-9)
    assert energy["mae"] == pytest.approx(mean_absolute_error(e, p, sample_weight=w), rel=1e-9)
    assert energy["r2"] == pytest.approx(r2_score(e, p, sample_weight=w), rel=1e-9)
    # compare --evaluations shows the heads' metrics of the evaluation
    shown = json.loads(invoke("compare", run, "--evaluations", "--format", "json").stdout)
    row = next(r for r in shown["rows"] if r["ids"] == [f"{run.name}:up"])
    assert row["heads.energy.rmse_mean"] == pytest.approx(energy["rmse"], rel=1e-12)


def test_evaluate_multitask_needs_every_heads_target(
    trained: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained["multitask"], run, ignore=shutil.ignore_patterns("evaluations"))
    _variation(tmp_path / "v.parquet", seed=26, n=50).drop(columns=["energy"]).to_parquet(
        tmp_path / "v.parquet"
    )
    result = invoke("evaluate", run, tmp_path / "v.parquet")
    assert result.exit_code == 2, result.output
    assert "the target of head 'energy': no column 'energy'" in result.output
    assert not (run / "evaluations").exists()
