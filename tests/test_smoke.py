"""Smoke mode: every example spec runs end to end in seconds, so no example can rot."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.spec import load_spec
from expctl.spec.smoke import smoke_overrides

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
#: Run specs only: sweep specs (a `sweep:` block) have their own smoke test.
EXAMPLES = sorted(
    p
    for p in (ROOT / "experiments").rglob("*.yaml")
    if "sweep" not in (yaml.safe_load(p.read_text()) or {})
)


def _data_dir() -> str | None:
    given = os.environ.get("EXPCTL_DATA_DIR")
    return given or (str(SHARED) if SHARED.is_dir() else None)


def test_smoke_overrides_shrink_but_keep_every_technique(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "experiments/techniques/pruning.yaml").spec
    overrides = smoke_overrides(spec)
    assert "train.epochs=1" in overrides and "data.n_samples=400" in overrides
    small = load_spec(ROOT / "experiments/techniques/pruning.yaml", overrides).spec
    assert small.train.epochs == 1 and small.train.batch_size == 32
    assert small.train.pruning.target_sparsity == spec.train.pruning.target_sparsity
    assert small.model == spec.model  # the same network


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_every_example_runs_in_smoke_mode(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text()
    if ("path:" in text or "source: mnist" in text) and _data_dir() is None:
        pytest.skip("needs ../shared/datasets (EXPCTL_DATA_DIR)")
    if _data_dir():
        monkeypatch.setenv("EXPCTL_DATA_DIR", _data_dir())
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(path), "--smoke", "-q", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    (run,) = list(out.iterdir())
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert len((run / "history.csv").read_text().splitlines()) == 2  # header + one epoch
    assert "epochs: 1" in (run / "spec.yaml").read_text()


#: Sweep specs anywhere under experiments/ (experiments/sweeps/, the lecture's search study, ...).
SWEEPS = sorted(
    p
    for p in (ROOT / "experiments").rglob("*.yaml")
    if "sweep" in (yaml.safe_load(p.read_text()) or {})
)


def _cell(value: Any) -> Any:
    """A sweep.csv cell or a space value, comparable: lists as tuples, floats rounded."""
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    if isinstance(value, list):
        return tuple(_cell(v) for v in value)
    return round(float(value), 12) if isinstance(value, int | float) else value


def _grid_values(dimension: dict[str, Any]) -> list[Any]:
    """The values a grid takes along one dimension, read from the spec's YAML by hand."""
    if dimension["type"] == "choice":
        return [_cell(v) for v in dimension["values"]]
    low, high, step = dimension["low"], dimension["high"], dimension["step"]
    return [_cell(low + k * step) for k in range(round((high - low) / step) + 1)]


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=[str(p.relative_to(ROOT)) for p in SWEEPS])
def test_every_example_sweep_runs_in_smoke_mode(path: Path, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["sweep", str(path), "--smoke", "-q", "--output-dir", str(out)]
    )
    assert result.exit_code == 0, result.output
    (sweep_dir,) = [p for p in out.iterdir() if p.is_dir()]
    table = pd.read_csv(sweep_dir / "sweep.csv")
    # A pruner may stop the second trial after its single epoch (it is worse than the first
    # at that step): pruned is a normal outcome, a failed trial is not.
    assert "COMPLETE" in set(table["state"])
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"}, table.to_string()
    sweep = yaml.safe_load(path.read_text())["sweep"]
    if sweep["method"] == "grid":  # every point of the Cartesian product, each once
        columns = list(sweep["space"])
        rows = [tuple(_cell(v) for v in row) for row in table[columns].itertuples(index=False)]
        grid = set(itertools.product(*(_grid_values(sweep["space"][c]) for c in columns)))
        assert len(rows) == len(grid) and set(rows) == grid, table.to_string()
    else:
        assert len(table) == 2
    assert (sweep_dir / "best.yaml").is_file()


def test_biasvar_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "biasvar",
            str(ROOT / "experiments" / "biasvar_polynomial.yaml"),
            "--smoke",
            "-q",
            "--output-dir",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (directory,) = [p for p in out.iterdir() if p.is_dir()]
    points = json.loads((directory / "decomposition.json").read_text())["points"]
    assert len(points) == 1 and {"variance", "bias2_plus_noise"} <= set(points[0])
    members = list((directory / "members").iterdir())
    assert len(members) == 2
    for member in members:
        spec = yaml.safe_load((member / "spec.yaml").read_text())
        assert spec["train"]["epochs"] == 1
