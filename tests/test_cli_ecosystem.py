"""--json on every view command, shell completion, and the new commands' start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from expctl.cli import cli
from expctl.views.roc import DEFAULT_WORKING_POINTS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "matplotlib", "mlflow", "uproot", "h5py")


@pytest.mark.parametrize(
    "argv",
    [["schema"], ["init", "--help"], ["export", "--help"], ["list", "--json", "NOWHERE"]],
)
def test_new_commands_start_light(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from expctl.cli import cli\n"
        f"result = CliRunner().invoke(cli, {argv!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "", f"{argv} imported {done.stdout.strip()}"


def assert_roc_json_is_the_predictions(shown: dict[str, Any], run: Path) -> None:
    """`roc --json`'s AUC is sklearn's on predictions.npz, and each working point is the tightest
    cut `score >= threshold` keeping at least the target signal efficiency, counted by hand."""
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y, score = npz["y_true"], npz["y_score"]
    signal, background = score[y == 1], score[y == 0]
    (result,) = shown["runs"]
    assert shown["figure"] == str(run / "plots" / "roc.png")
    assert result["run"] == run.name
    assert result["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    low, high = result["auc_ci68"]
    assert low < result["auc"] < high
    points = result["working_points"]
    assert [p["signal_efficiency_target"] for p in points] == list(DEFAULT_WORKING_POINTS)
    for point in points:
        target, cut = point["signal_efficiency_target"], point["threshold"]
        eff_s, eff_b = np.mean(signal >= cut), np.mean(background >= cut)
        assert point["signal_efficiency"] == pytest.approx(eff_s, abs=1e-12)
        assert eff_s >= target - 1e-9 and np.mean(signal > cut) < target  # the tightest such cut
        assert point["background_efficiency"] == pytest.approx(eff_b, abs=1e-12)
        assert point["rejection"] == pytest.approx(1 / eff_b)
        err = np.sqrt(eff_s * (1 - eff_s) / signal.size)
        assert point["signal_efficiency_err"] == pytest.approx(err)


def test_every_view_command_has_json(trained_runs) -> None:
    out = trained_runs["binary"].parent
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["list", str(out), "--json"]).output)
    assert {r["id"] for r in listed} == {p.name for p in trained_runs.values()}
    binary = next(r for r in listed if r["id"] == trained_runs["binary"].name)
    metrics = json.loads((trained_runs["binary"] / "metrics.json").read_text())
    assert binary["status"] == "completed" and binary["metrics"]["auc"] == metrics["auc"]
    compared = json.loads(runner.invoke(cli, ["compare", str(out), "--json"]).output)
    assert len(compared["rows"]) == 2
    shown = json.loads(runner.invoke(cli, ["show", str(trained_runs["binary"]), "--json"]).output)
    assert shown["run"] == trained_runs["binary"].name
    roc = runner.invoke(cli, ["roc", str(trained_runs["binary"]), "--json"])
    assert roc.exit_code == 0, roc.output
    assert_roc_json_is_the_predictions(json.loads(roc.output), trained_runs["binary"])
    assert json.loads(runner.invoke(cli, ["list", "NOWHERE", "--json"]).output) == []


def test_bash_completion_script_and_command_names() -> None:
    env = {**os.environ, "_EXPCTL_COMPLETE": "bash_source"}
    script = subprocess.run(
        [sys.executable, "-m", "expctl"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert "_expctl_completion" in script.stdout and "complete " in script.stdout
    env = {
        **os.environ,
        "_EXPCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "expctl ex",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "expctl"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert "plain,export" in done.stdout
    env |= {"COMP_WORDS": "expctl init --template ", "COMP_CWORD": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "expctl"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert {"plain,mlp", "plain,cnn", "plain,multitask", "plain,sweep"} <= set(done.stdout.split())


#: Where each integration is documented: the README's commands table, and the pages it links to.
INTEGRATION_DOCS = {
    "README.md": ("expctl export RUN", "expctl schema", "--html", "[--json]"),
    "docs/integrations.md": (
        "tensorboard --logdir outputs",
        "histograms: true",
        "--mlflow sqlite:///mlflow.db",
        "expctl export RUN",
        "expctl[mlflow]",
        "yaml-language-server: $schema=",
        "expctl schema",
        "expctl init --template",
        "report.html",
        "--html",
        "expctl.load_run(",
        "expctl.run(",
        "_EXPCTL_COMPLETE=bash_source expctl",
    ),
    "docs/data.md": ("source: root", "expctl[root]", "source: hdf5"),
}


def test_docs_document_each_integration() -> None:
    readme = (ROOT / "README.md").read_text()
    for page, texts in INTEGRATION_DOCS.items():
        assert page == "README.md" or f"({page})" in readme, f"README links {page}"
        text_of_page = (ROOT / page).read_text()
        for text in texts:
            assert text in text_of_page, (page, text)
