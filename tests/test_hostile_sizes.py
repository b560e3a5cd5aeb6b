"""Hostile inputs at every magnitude: exit 2, a clear message, no traceback, nothing written.

The bad-input tests (test_bad_input.py) use one size of each; here each kind is swept over sizes
that cross the parsers' own limits (Python's recursion limit near 1,000 levels, its 4,300-digit
limit on integer conversion, the spec's 64 levels and 5 MB), for spec files, `--set` values and
`check` baselines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from expctl.cli import cli

SIZES = (10, 100, 1_000, 10_000, 100_000)


def _refused(args: list[str], tmp_path: Path) -> str:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [*args, "--output-dir", str(out)])
    assert result.exit_code == 2, (result.exit_code, result.output[-500:], result.exception)
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing written
    return result.output


def _spec_cases(n: int) -> dict[str, str]:
    depth = min(n, 3_000)  # a deeper block mapping is refused as too large first
    return {
        "flow nesting": "seed: 1\nmodel: {hidden: " + "[" * n + "]" * n + "}\n",
        "block nesting": "".join("  " * i + f"k{i}:\n" for i in range(depth))
        + "  " * depth
        + "x: 1\n",
        "long number": "seed: " + "9" * n + "\n",
        "long key": "k" * n + ": 1\n",
        "aliases": "\n".join(
            [
                "a0: &a0 [x, x]",
                *(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, min(n, 40))),
            ]
        ),
    }


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", list(_spec_cases(1)))
def test_hostile_spec_files(tmp_path: Path, n: int, kind: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(_spec_cases(n)[kind])
    output = _refused(["run", str(spec)], tmp_path)
    assert "spec.yaml" in output


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(
    "value", [lambda n: "[" * n + "]" * n, lambda n: "9" * n], ids=["nesting", "long number"]
)
def test_hostile_set_values(write_spec, tmp_path: Path, n: int, value) -> None:
    key = "model.hidden" if value(1) == "[]" else "seed"
    output = _refused(["run", str(write_spec()), "--set", f"{key}={value(n)}"], tmp_path)
    assert "--set" in output


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["nesting", "long number"])
def test_hostile_baselines(trained_runs, tmp_path: Path, n: int, kind: str) -> None:
    baseline = tmp_path / "baseline.json"
    if kind == "nesting":
        baseline.write_text('{"metrics": ' + "[" * n + "]" * n + "}")
    else:  # a huge value would make the gate fail (exit 1), so it is the tolerance that grows
        baseline.write_text('{"metrics": {"auc": {"value": 0.5, "tolerance": -' + "9" * n + "}}}")
    result = CliRunner().invoke(
        cli, ["check", str(trained_runs["binary"]), "--baseline", str(baseline)]
    )
    assert result.exit_code == 2, (result.output[-500:], result.exception)
    assert "baseline.json" in result.output and "Traceback" not in result.output
