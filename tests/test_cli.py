"""The command line: start-up imports, exit codes, and `run` end to end on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import heavy_imports
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score, roc_auc_score

from expctl import __version__
from expctl.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["list", "--help"], ["run", "--help"], ["list", "NOWHERE"]]
)
def test_start_up_never_imports_heavy_modules(argv: list[str]) -> None:
    loaded = heavy_imports(argv)
    assert loaded == "", f"{argv} imported {loaded}"


def test_version_and_help() -> None:
    assert __version__ in invoke("--version").output
    output = invoke("--help").output
    for command in ("run", "validate", "list"):
        assert command in output


def test_validate_prints_the_resolved_spec(write_spec) -> None:
    result = invoke("validate", str(write_spec()), "--set", "model.dropout=0.3")
    assert result.exit_code == 0
    resolved = yaml.safe_load(result.output)
    assert resolved["model"]["dropout"] == 0.3
    assert resolved["train"]["optimizer"]["beta_1"] == 0.9


@pytest.mark.parametrize(
    ("extra", "args", "expect"),
    [
        ({"model": {"droput": 0.2}}, [], "model.droput: unknown key (did you mean 'dropout'?)"),
        ({"train": {"optimizer": {"name": "adam", "learning_rate": -0.001}}}, [], "greater than 0"),
        ({"model": {"dropout": 1.5}}, [], "dropout must be in [0, 1)"),
        ({"train": {"epochs": "ten"}}, [], "train.epochs"),
        ({}, ["--set", "model.dropout=2"], "--set model.dropout=2"),
        ({}, ["--name", "../escape"], "name:"),
        ({"data": {"source": "csv", "path": "nope.csv", "target": "y"}}, [], "not found"),
        ({"train": {"early_stopping": {"monitor": "val_mae"}}}, [], "not logged for a binary task"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    write_spec, tmp_path: Path, extra, args, expect
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(write_spec(extra)), "--output-dir", str(out), *args]
    )
    assert result.exit_code == 2, result.output
    assert expect in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_debug_shows_the_traceback(write_spec, tmp_path: Path) -> None:
    spec = write_spec({"model": {"droput": 0.2}})
    cmd = [
        sys.executable,
        "-m",
        "expctl",
        "--debug",
        "run",
        str(spec),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "model.droput" in done.stderr


def _single_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


def test_run_end_to_end_binary(write_spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        "run", str(write_spec()), "--output-dir", str(out), "--seed", "5", "--name", "e2e"
    )
    assert result.exit_code == 0, result.output
    run = _single_run(out)
    assert run.name.split("-")[2] == "e2e"
    assert f"run directory: {run}" in result.output
    assert "epoch 1/2" in result.output and "epoch 2/2" in result.output
    auc_line = next(line for line in result.output.splitlines() if line.startswith("test auc"))

    files = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    expected = {
        "spec.yaml",
        "status.json",
        "history.csv",
        "metrics.json",
        "predictions.npz",
        "model.keras",
        "environment.json",
        "data.json",
        "plots/learning_curves.png",
        "plots/roc.png",
        "plots/rejection.png",
        "plots/overtraining.png",
        "plots/confusion.png",
    }
    assert expected <= files
    assert not [f for f in files if ".tmp-" in f]

    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "completed" and status["error"] is None
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    assert (
        spec["seed"] == 5
        and spec["name"] == "e2e"
        and spec["train"]["optimizer"]["beta_2"] == 0.999
    )

    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    for column in (
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "auc",
        "val_auc",
        "learning_rate",
    ):
        assert column in history.columns
    assert np.allclose(history["learning_rate"], 0.01)

    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y_true, y_score = npz["y_true"], npz["y_score"]
        assert list(npz["classes"]) == ["0", "1"]
    assert y_score.ndim == 1 and len(y_true) == 160
    assert metrics["auc"] == pytest.approx(roc_auc_score(y_true, y_score), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(np.mean((y_score > 0.5) == y_true), abs=1e-12)
    for key in (
        "loss",
        "precision",
        "recall",
        "sensitivity",
        "specificity",
        "f1",
        "epochs_trained",
        "best_epoch",
    ):
        assert key in metrics
    assert metrics["auc_ci68_low"] < metrics["auc"] < metrics["auc_ci68_high"]
    assert metrics["rejection_at_90"] < metrics["rejection_at_50"]
    assert 0 <= metrics["ks_pvalue_signal"] <= 1 and 0 <= metrics["ks_pvalue_background"] <= 1
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    assert tp == np.sum((y_score > 0.5) & (y_true == 1)) and fp == np.sum(
        (y_score > 0.5) & (y_true == 0)
    )
    assert tn + fp + fn + tp == len(y_true)
    assert f"auc {metrics['auc']:.4f}" in auc_line

    env = json.loads((run / "environment.json").read_text())
    assert {"python", "tensorflow", "keras", "numpy", "platform", "cpu"} <= set(env)

    listing = invoke("list", str(out))
    assert run.name in listing.output and "completed" in listing.output and "auc" in listing.output


def test_saved_model_predicts_raw_events_in_safe_mode(write_spec, tmp_path: Path) -> None:
    from expctl.models import load_model

    out = tmp_path / "out"
    assert invoke("run", str(write_spec()), "--output-dir", str(out), "-q").exit_code == 0
    run = _single_run(out)
    model = load_model(run / "model.keras")
    from expctl.data import prepare
    from expctl.spec import load_spec

    loaded = load_spec(run / "spec.yaml")
    data = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed)
    scores = model.predict(data.test.x, verbose=0)[:, 0]
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        np.testing.assert_allclose(scores, npz["y_score"], rtol=1e-5, atol=1e-6)


def test_same_spec_and_seed_give_identical_metrics(write_spec, tmp_path: Path) -> None:
    spec = write_spec({"train": {"early_stopping": {"monitor": "val_auc", "patience": 1}}})
    texts = []
    for out in ("a", "b"):
        assert invoke("run", str(spec), "--output-dir", str(tmp_path / out), "-q").exit_code == 0
        texts.append((_single_run(tmp_path / out) / "metrics.json").read_bytes())
    assert texts[0] == texts[1]
    assert (
        invoke("run", str(spec), "--output-dir", str(tmp_path / "c"), "-q", "--seed", "4").exit_code
        == 0
    )
    assert (_single_run(tmp_path / "c") / "metrics.json").read_bytes() != texts[0]


def test_multiclass_and_regression_runs(write_spec, tmp_path: Path) -> None:
    digits = write_spec(
        {"data": {"source": "digits", "n_samples": None}, "name": "digits"}, name="d.yaml"
    )
    result = invoke("run", str(digits), "--output-dir", str(tmp_path / "d"), "-q")
    assert result.exit_code == 0, result.output
    run = _single_run(tmp_path / "d")
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y_true, proba = npz["y_true"], npz["y_score"]
    assert proba.shape == (len(y_true), 10)
    assert metrics["accuracy"] == pytest.approx(np.mean(proba.argmax(1) == y_true))
    assert metrics["auc"] == pytest.approx(
        roc_auc_score(y_true, proba, multi_class="ovr"), abs=1e-9
    )
    assert np.array(metrics["confusion_matrix"]).sum() == len(y_true)
    assert not (run / "plots/roc.png").exists()

    energy = write_spec({"data": {"target": "energy"}, "name": "energy"}, name="e.yaml")
    result = invoke("run", str(energy), "--output-dir", str(tmp_path / "e"), "-q")
    assert result.exit_code == 0, result.output
    run = _single_run(tmp_path / "e")
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y_true, y_pred = npz["y_true"], npz["y_score"]
    assert y_true.shape == y_pred.shape and len(y_true) == 160  # 20% of the 800 events
    mse = mean_squared_error(y_true, y_pred)
    assert metrics["mse"] == pytest.approx(mse, rel=1e-9)
    assert metrics["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-9)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), rel=1e-9)
    assert metrics["r2"] == pytest.approx(r2_score(y_true, y_pred), rel=1e-9)
    assert "test rmse" in result.output


def test_a_failing_run_is_marked_failed_and_keeps_its_files(
    write_spec, tmp_path: Path, monkeypatch
) -> None:
    import expctl.runner.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr(expctl.runner.pipeline, "evaluate", broken)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(write_spec()), "--output-dir", str(out), "-q"])
    assert result.exit_code == 1
    assert "evaluation exploded" in result.output and "Traceback" not in result.output
    run = _single_run(out)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == "RuntimeError: evaluation exploded"
    assert "evaluation exploded" in (run / "traceback.txt").read_text()
    assert len(pd.read_csv(run / "history.csv")) == 2
    assert (run / "spec.yaml").exists() and not (run / "metrics.json").exists()


def test_a_diverging_run_is_marked_diverged(write_spec, tmp_path: Path) -> None:
    spec = write_spec(
        {
            "data": {"target": "energy", "standardize": False},
            "model": {
                "hidden": [16, 16],
                "dropout": 0.0,
                "l2": 0.0,
                "initializer": {"name": "glorot_normal", "scale": 10},
            },
            "train": {"optimizer": {"name": "sgd", "learning_rate": 1.0}, "epochs": 5},
        }
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out)])
    assert result.exit_code == 1, result.output
    assert "diverged" in result.output
    run = _single_run(out)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "diverged" and "loss is" in status["error"]
    history = pd.read_csv(run / "history.csv")
    assert len(history) < 5  # stopped at the first non-finite epoch
    assert not np.isfinite(history["loss"].iloc[-1])


def test_repeat_runs_consecutive_seeds(write_spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        "run", str(write_spec()), "--output-dir", str(out), "--repeat", "3", "--seed", "10", "-q"
    )
    assert result.exit_code == 0, result.output
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    seeds = sorted(yaml.safe_load((r / "spec.yaml").read_text())["seed"] for r in runs)
    assert seeds == [10, 11, 12]
    aucs = [json.loads((r / "metrics.json").read_text())["auc"] for r in runs]
    assert f"auc {np.mean(aucs):.4f} ± {np.std(aucs, ddof=1):.4f}" in result.output
    assert "3 runs (seeds 10..12)" in result.output
