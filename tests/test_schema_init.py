"""`expctl schema` (JSON Schema, committed copy, editor modelines) and `expctl init` templates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.spec import load_spec
from expctl.spec.jsonschema import SCHEMA_FILE, spec_json_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "experiments").rglob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_schema_command_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == spec_json_schema()
    committed = json.loads((ROOT / SCHEMA_FILE).read_text())
    assert committed == printed, f"{SCHEMA_FILE} is stale: uv run expctl schema > {SCHEMA_FILE}"
    jsonschema.Draft202012Validator.check_schema(printed)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_names_the_schema_and_validates_against_it(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path} lacks the yaml-language-server modeline"
    assert (path.parent / match.group(1)).resolve() == (ROOT / SCHEMA_FILE).resolve()
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_the_json_schema_refuses_what_the_loader_refuses() -> None:
    schema = spec_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    good = {"name": "x", "model": {"type": "mlp", "dropout": 0.2}, "tracking": {"histograms": True}}
    assert not list(validator.iter_errors(good))
    for bad in (
        {"model": {"type": "mlp", "droput": 0.2}},  # a typo
        {"train": {"epochs": 0}},
        {"data": {"source": "jets", "n_samples": "many"}},
        {"tracking": {"mlflow": 3}},
    ):
        assert list(validator.iter_errors(bad)), bad


# ------------------------------------------------------------------------------------------ init


@pytest.mark.parametrize("template", ["mlp", "cnn", "multitask", "sweep"])
def test_init_writes_a_commented_spec_that_validates(tmp_path: Path, template: str) -> None:
    target = tmp_path / f"{template}.yaml"
    result = CliRunner().invoke(cli, ["init", "--template", template, str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.count("\n#") + text.count("  #") >= 5, "a starter spec explains its keys"
    data = yaml.safe_load(text)
    jsonschema.validate(data, spec_json_schema())
    if template == "sweep":
        from expctl.spec.sweep import load_sweep_spec

        load_sweep_spec(target)
    else:
        load_spec(target)


def test_init_defaults_to_spec_yaml_and_never_overwrites(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    before = (tmp_path / "spec.yaml").read_text()
    again = runner.invoke(cli, ["init", "--template", "cnn"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert (tmp_path / "spec.yaml").read_text() == before
    bad = runner.invoke(cli, ["init", "--template", "rnn", "x.yaml"])
    assert bad.exit_code == 2 and "mlp" in bad.output
