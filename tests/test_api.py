"""The Python API: expctl.run and expctl.load_run, and that `import expctl` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY
from sklearn.metrics import roc_auc_score

import expctl
from expctl.errors import RunNotFoundError, SpecError

ROOT = Path(__file__).resolve().parents[1]


def test_import_expctl_and_load_run_never_import_tensorflow(trained_runs) -> None:
    code = (
        "import sys, expctl\n"
        f"run = expctl.load_run({str(trained_runs['binary'])!r})\n"
        "run.history, run.predictions\n"
        "print(','.join(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == ""


def test_load_run_by_path_id_and_prefix(trained_runs) -> None:
    path = trained_runs["binary"]
    run = expctl.load_run(path)
    assert run.id == path.name
    assert run.spec["model"]["hidden"] == [8]
    assert run.status["status"] == "completed"
    assert run.metrics["auc"] == json.loads((path / "metrics.json").read_text())["auc"]
    assert isinstance(run.history, pd.DataFrame)
    assert run.history["epoch"].tolist() == [1, 2]
    assert set(run.predictions) >= {"y_true", "y_score"}
    assert len(run.predictions["y_score"]) == run.data["n_test"]
    assert run.report.is_file()
    assert "auc=" in repr(run)
    by_prefix = expctl.load_run(path.name[:-3], output_dir=path.parent)
    assert by_prefix.path == run.path
    with pytest.raises(RunNotFoundError):
        expctl.load_run("no-such-run", output_dir=path.parent)


def test_run_a_dict_with_keyword_overrides(tmp_path: Path) -> None:
    run = expctl.run(
        TINY, tmp_path / "out", train__epochs=1, model__hidden=[4], overrides=["name=api"]
    )
    assert run.status["status"] == "completed"
    assert run.spec["train"]["epochs"] == 1 and run.spec["model"]["hidden"] == [4]
    assert run.spec["name"] == "api" and run.id.split("-")[2] == "api"
    assert len(run.history) == 1
    with np.load(run.path / "predictions.npz", allow_pickle=False) as npz:
        saved = {key: npz[key] for key in npz.files}
    assert np.array_equal(run.predictions["y_true"], saved["y_true"])
    # The headline number is the AUC of the saved predictions (jets carry no event weights).
    assert "weight" not in saved or np.all(saved["weight"] == 1)
    assert run.metrics["auc"] == pytest.approx(
        roc_auc_score(saved["y_true"], saved["y_score"]), abs=1e-12
    )
    with pytest.raises(SpecError, match=r"model\.droput"):
        expctl.run(TINY, tmp_path / "out", model__droput=0.1)


def test_run_a_spec_file(write_spec, tmp_path: Path) -> None:
    run = expctl.run(write_spec(), output_dir=tmp_path / "out", train__epochs=1)
    assert run.path.parent == tmp_path / "out"
    assert run.metrics["epochs_trained"] == 1


def test_api_names_stay_functions_after_their_subpackages_are_imported() -> None:
    # a module and a package share the API's names
    import expctl.ablate
    import expctl.biasvar.worker
    import expctl.sweep.lifecycle

    for name in ("biasvar", "ablate", "sweep", "compare"):
        function = getattr(expctl, name)
        assert callable(function) and function.__module__ == "expctl.api", name


def test_biasvar_calls_the_command_core(tmp_path: Path) -> None:
    spec = tmp_path / "poly.yaml"
    spec.write_text(
        "name: poly\nseed: 2\n"
        "data: {source: polynomial, n_samples: 60, coefficients: [0, 1, -1], sigma: 0.3}\n"
        "model: {type: polynomial, degree: 2}\n"
        "train: {optimizer: {name: adam, learning_rate: 0.05}, batch_size: 32, epochs: 2}\n"
    )
    outcome = expctl.biasvar(spec, tmp_path / "out", members=2, train__epochs=1)
    assert outcome.path.parent == tmp_path / "out" and outcome.failed_members == 0
    (point,) = outcome.points
    assert point["members"] == 2 and point["variance"] >= 0
    assert expctl.load_run(outcome.path).status["kind"] == "biasvar"


def test_ablate_calls_the_command_core(write_spec, tmp_path: Path) -> None:
    outcome = expctl.ablate(write_spec(), tmp_path / "out", train__epochs=1)
    assert outcome.path.parent == tmp_path / "out"
    variants = [row["variant"] for row in outcome.rows]
    assert variants[0] == "full" and len(variants) == 3  # TINY has dropout and l2


def test_sweep_calls_the_command_core(tmp_path: Path) -> None:
    import yaml

    data = {
        **TINY,
        "sweep": {
            "method": "grid",
            "metric": "val_loss",
            "space": {"model.hidden": {"type": "choice", "values": [[4], [8]]}},
        },
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = expctl.sweep(path, tmp_path / "out", smoke=True)
    assert result.error is None and result.counts == {"COMPLETE": 2}
    table = pd.read_csv(result.table)
    assert sorted(table["model.hidden"]) == ["[4]", "[8]"]
    # val_loss is minimised: the best trial is the row with the smallest value
    assert result.maximize is False
    assert result.best.value == table["value"].min()


def test_compare_gives_the_command_table_as_a_dataframe(trained_runs) -> None:
    folder = trained_runs["binary"].parent
    table = expctl.compare(folder, sort="-accuracy", group=False)
    assert set(table["id"]) == {p.name for p in trained_runs.values()}
    accuracies = [
        json.loads((folder / run_id / "metrics.json").read_text())["accuracy"]
        for run_id in table["id"]
    ]
    assert table["accuracy"].tolist() == accuracies == sorted(accuracies, reverse=True)
    (binary,) = table[table["id"] == trained_runs["binary"].name].to_dict("records")
    assert binary["auc"] == json.loads((trained_runs["binary"] / "metrics.json").read_text())["auc"]
