"""MLflow export of run directories, read back with MLflow's own client (a store under tmp_path)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from expctl.cli import cli
from expctl.errors import BadInputError
from expctl.export import export_run, final_metrics, flatten, require_mlflow

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local MLflow tracking store (SQLite) in tmp_path; artifacts go to tmp_path/mlruns."""
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_flatten_and_test_metrics() -> None:
    spec = {"model": {"hidden": [8, 4], "l2": 0.001, "heads": None}, "train": {"shuffle": True}}
    assert flatten(spec) == {
        "model.hidden": "[8, 4]",
        "model.l2": "0.001",
        "model.heads": "null",
        "train.shuffle": "true",
    }
    metrics = {
        "auc": 0.9,
        "confusion_matrix": [[1, 2]],
        "best_epoch": None,
        "heads": {"e": {"rmse": 2}},
    }
    assert final_metrics(metrics) == {"test_auc": 0.9, "test_e_rmse": 2.0}


def test_export_logs_params_history_test_metrics_and_artifacts(trained_runs, store) -> None:
    run_dir = trained_runs["binary"]
    mlflow_id = export_run(run_dir, store, experiment="tests")
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(mlflow_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == run_dir.name
    assert run.data.tags["expctl.run_id"] == run_dir.name
    # params: the flattened resolved spec
    assert run.data.params["model.hidden"] == "[8]"
    assert run.data.params["train.optimizer.name"] == "adam"
    assert float(run.data.params["train.optimizer.learning_rate"]) == 0.01
    # per-epoch metrics, step = epoch
    history = pd.read_csv(run_dir / "history.csv")
    logged = client.get_metric_history(mlflow_id, "val_loss")
    assert [m.step for m in logged] == history["epoch"].tolist()
    assert [m.value for m in logged] == pytest.approx(history["val_loss"].tolist())
    lr = client.get_metric_history(mlflow_id, "learning_rate")
    assert len(lr) == len(history)
    # test metrics
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run.data.metrics["test_auc"] == pytest.approx(metrics["auc"])
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    # the run directory's files as artifacts
    names = {a.path for a in client.list_artifacts(mlflow_id)}
    assert {"spec.yaml", "metrics.json", "history.csv", "model.keras", "report.html"} <= names
    assert {"plots", "tensorboard"} <= names
    plots = {a.path for a in client.list_artifacts(mlflow_id, "plots")}
    assert "plots/roc.png" in plots
    # exporting again finds the run instead of logging a second one
    assert export_run(run_dir, store, experiment="tests") == mlflow_id
    (experiment,) = [e for e in client.search_experiments() if e.name == "tests"]
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_export_command(trained_runs, store) -> None:
    run_dir = trained_runs["multiclass"]
    result = CliRunner().invoke(
        cli, ["export", str(run_dir), "--mlflow", store, "--experiment", "cli"]
    )
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=store)
    (experiment,) = [e for e in client.search_experiments() if e.name == "cli"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["expctl.run_id"] == run_dir.name
    assert "test_accuracy" in run.data.metrics
    assert run.info.run_id in result.output


def test_run_with_mlflow_logs_the_finished_run(write_spec, tmp_path: Path, store) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(write_spec()), "--output-dir", str(out), "-q", "--mlflow", store]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("expctl")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["expctl.run_id"] == run_dir.name
    assert run.data.params["tracking.mlflow"] == store
    assert "test_auc" in run.data.metrics


def test_missing_mlflow_is_bad_input_with_the_install_hint(
    write_spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    with pytest.raises(BadInputError, match=r"expctl\[mlflow\]"):
        require_mlflow()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(write_spec()), "--output-dir", str(out), "--mlflow", "sqlite:///x.db"]
    )
    assert result.exit_code == 2
    assert "uv sync --extra mlflow" in result.output
    assert not out.exists()  # refused before anything is written
