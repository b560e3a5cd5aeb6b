"""The README's main job, run as a user runs it (slow: a full training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from test_jets import assert_not_above_the_ratio

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EXPCTL_DATA_DIR", ROOT.parent / "shared" / "datasets"))


def _run(spec: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    cmd = [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    runs = sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []
    return done, runs[-1] if runs else out


@pytest.mark.slow
def test_quickstart_approaches_the_bayes_limit(tmp_path: Path) -> None:
    from expctl.data import prepare
    from expctl.data.jets import log_likelihood_ratio
    from expctl.spec import load_spec

    done, run = _run(ROOT / "experiments/quickstart.yaml", tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"run directory: {run}" in done.stdout and "test auc" in done.stdout
    assert done.stderr == ""  # no TensorFlow start-up noise
    metrics = json.loads((run / "metrics.json").read_text())

    # The exact likelihood ratio on the same test events is the best any classifier can do.
    loaded = load_spec(run / "spec.yaml")
    data = prepare(loaded.spec.data, loaded.base_dir, loaded.spec.seed)
    frame = pd.DataFrame(data.test.x.astype(np.float64), columns=data.feature_names)
    llr = log_likelihood_ratio(frame)
    ceiling = roc_auc_score(data.test.y, llr)
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        y, score = npz["y_true"], npz["y_score"]
    np.testing.assert_array_equal(y, data.test.y)  # the same events, in the same order
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert metrics["auc"] > max(0.90, ceiling - 0.03), (metrics["auc"], ceiling)
    assert_not_above_the_ratio(y, score, llr)  # one-sided 95% paired bootstrap


@pytest.mark.slow
@pytest.mark.skipif(
    not (SHARED / "higgs_uci_subset.csv").is_file(), reason="shared datasets not present"
)
def test_higgs_example_on_real_data(tmp_path: Path) -> None:
    env = {**os.environ, "EXPCTL_DATA_DIR": str(SHARED)}
    cmd = [
        sys.executable,
        "-m",
        "expctl",
        "run",
        str(ROOT / "experiments/higgs.yaml"),
        "--output-dir",
        str(tmp_path),
        "--set",
        "train.epochs=3",
        "-q",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.6 < metrics["auc"] < 0.95
