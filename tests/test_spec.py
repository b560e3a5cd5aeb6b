"""The spec: validation, error messages with file/line/key/suggestion, YAML safety, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from expctl.errors import SpecError
from expctl.spec import load_spec, resolved_yaml, spec_from_dict
from expctl.spec.fields import JET_COLUMNS
from expctl.spec.models import MlpModel

ROOT = Path(__file__).resolve().parents[1]


def error_of(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides)
    assert info.value.exit_code == 2
    return info.value.message


def test_every_technique_example_is_documented() -> None:
    """docs/techniques.md (linked from the README) names every spec of experiments/techniques/."""
    page = (ROOT / "docs" / "techniques.md").read_text()
    assert "(docs/techniques.md)" in (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "experiments" / "techniques").glob("*.yaml")):
        assert path.name in page, path.name


def test_every_experiment_validates_and_round_trips(tmp_path: Path) -> None:
    specs = [
        *(ROOT / "experiments").glob("*.yaml"),
        *(ROOT / "experiments/techniques").glob("*.yaml"),
    ]
    for path in sorted(specs):
        spec = load_spec(path).spec
        again = tmp_path / "resolved.yaml"
        again.write_text(resolved_yaml(spec))
        assert load_spec(again).spec == spec, path


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n")
    text = resolved_yaml(load_spec(path).spec)
    for key in (
        "source: jets",
        "n_samples: 20000",
        "hidden: [64, 64]",
        "name: adam",
        "learning_rate: 0.001",
    ):
        assert key in text


def test_typo_names_path_line_and_suggestion(tmp_path: Path) -> None:
    quickstart = (ROOT / "experiments/quickstart.yaml").read_text()
    assert "  dropout: 0.2" in quickstart
    path = tmp_path / "typo.yaml"
    path.write_text(quickstart.replace("  dropout: 0.2", "  droput: 0.2"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "droput" in text)
    message = error_of(path)
    assert f"{path}:{line}: model.droput: unknown key (did you mean 'dropout'?)" in message
    assert "allowed here:" in message and "hidden" in message


@pytest.mark.parametrize(
    ("yaml_line", "where", "expect"),
    [
        (
            "  optimizer: {name: adam, learning_rate: -1.0e-3}",
            "train.optimizer.learning_rate",
            "greater than 0",
        ),
        ("  epochs: ten", "train.epochs", "valid integer (got 'ten')"),
        ('  epochs: "10"', "train.epochs", "valid integer"),
        ("  batch_size: 0", "train.batch_size", "greater than or equal to 1"),
        (
            "  optimizer: {name: adam, learning_rate: .nan}",
            "train.optimizer.learning_rate",
            "finite",
        ),
        (
            "  optimizer: {name: adam, learning_rate: .inf}",
            "train.optimizer.learning_rate",
            "finite",
        ),
        ("  optimizer: {name: sdg}", "train.optimizer.name", "did you mean 'sgd'"),
        ("  optimizer: {name: adam, rho: 0.9}", "train.optimizer.rho", "unknown key"),
        (
            "  early_stopping: {restore_best: no}",
            "train.early_stopping.restore_best",
            "valid boolean",
        ),
        ("  early_stopping: {patience: 010}", "train.early_stopping.patience", "valid integer"),
    ],
)
def test_bad_train_values(tmp_path: Path, yaml_line: str, where: str, expect: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: x\ntrain:\n{yaml_line}\n")
    message = error_of(path)
    assert f"{path}:3: {where}:" in message
    assert expect in message


@pytest.mark.parametrize(
    ("model", "expect"),
    [
        ("{dropout: 1.5}", "dropout must be in [0, 1), got 1.5"),
        ("{dropout: -0.1}", "dropout must be in [0, 1)"),
        ("{hidden: [8, 8], dropout: [0.1]}", "dropout has 1 values but hidden has 2 layers"),
        ("{l2: [0.1, x]}", "l2 must be a number or a list of numbers"),
        ("{activation: rleu}", "did you mean 'relu'"),
        ("{initializer: {name: glorot, scale: 0}}", "model.initializer"),
        ("{type: cnnn}", "unknown value 'cnnn' (did you mean 'cnn'?); one of mlp, cnn, polynomial"),
    ],
)
def test_bad_model_values(tmp_path: Path, model: str, expect: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"model: {model}\n")
    message = error_of(path)
    assert f"{path}:1: model" in message
    assert expect in message


def test_per_layer_values() -> None:
    spec = spec_from_dict({"model": {"hidden": [8, 4, 2], "dropout": [0.0, 0.1, 0.2], "l2": 1e-3}})
    model = spec.model
    assert isinstance(model, MlpModel)
    assert model.per_layer("dropout") == [0.0, 0.1, 0.2]
    assert model.per_layer("l2") == [1e-3] * 3


def test_scientific_notation_without_dot_is_a_number(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("train:\n  optimizer: {name: sgd, learning_rate: 1e-3}\nmodel: {l2: 5E-4}\n")
    spec = load_spec(path).spec
    assert spec.train.optimizer.learning_rate == pytest.approx(1e-3)
    assert spec.model.l2 == pytest.approx(5e-4)


def test_split_must_sum_to_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data:\n  source: jets\n  split: {train: 0.5, val: 0.2, test: 0.2}\n")
    assert "train + val + test must be 1, got 0.9" in error_of(path)


def test_early_stopping_on_validation_needs_a_validation_split(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {split: {train: 0.8, val: 0.0, test: 0.2}}\ntrain: {early_stopping: {monitor: val_loss}}\n"
    )
    assert "data.split.val is 0" in error_of(path)


def test_unknown_data_source_and_missing_file_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data:\n  source: jet\n")
    assert "data.source: unknown value 'jet' (did you mean 'jets'?)" in error_of(path)
    path.write_text("data:\n  source: csv\n")
    message = error_of(path)
    assert "data.path: required key missing" in message
    assert "data.target: required key missing" in message


def test_run_name_cannot_escape_the_output_dir(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    for bad in ("../evil", "a/b", ".hidden", ""):
        path.write_text(f'name: "{bad}"\n')
        assert "name:" in error_of(path)


def test_jet_columns_match_the_generator() -> None:
    from expctl.data.jets import JET_FEATURES

    assert (*JET_FEATURES, "energy") == JET_COLUMNS


# ----------------------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- a\n- b\n", "a spec is a mapping"),
        ("name: a\nname: b\n", "2: duplicate key 'name' (first given on line 1)"),
        ("model:\n  hidden: [1]\n  hidden: [2]\n", "3: duplicate key 'model.hidden'"),
        ("name: !!python/object/apply:os.system [echo hi]\n", "invalid YAML"),
        ("name: !!python/name:os.system x\n", "invalid YAML"),
        ("name: !!set {a: null}\n", "invalid YAML"),
        ("name: [unclosed\n", "invalid YAML"),
        ("name: x\n\tseed: 1\n", "invalid YAML"),
    ],
)
def test_malformed_yaml(tmp_path: Path, text: str, expect: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    message = error_of(path)
    assert str(path) in message
    assert expect in message


def test_alias_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert "expands to more than" in error_of(path)


def test_missing_spec_file(tmp_path: Path) -> None:
    assert "spec file not found" in error_of(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------ overrides


def test_set_overrides_with_the_same_validation(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n")
    spec = load_spec(
        path, ("train.optimizer.learning_rate=0.01", "model.hidden=[32, 16]", "seed=5")
    ).spec
    assert spec.train.optimizer.learning_rate == 0.01
    assert spec.model.hidden == [32, 16]
    assert spec.seed == 5
    message = error_of(path, ("model.dropout=1.5",))
    assert "--set model.dropout=1.5: model.dropout: dropout must be in [0, 1)" in message
    assert "did you mean 'dropout'" in error_of(path, ("model.droput=0.1",))


@pytest.mark.parametrize("bad", ["noequals", "=3", "a..b=1", "model.dropout="])
def test_malformed_set(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n")
    assert "--set" in error_of(path, (bad,))


def test_set_switches_optimizer_variant(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("train:\n  optimizer: {name: adam, learning_rate: 0.001}\n")
    spec = load_spec(path, ("train.optimizer.name=sgd",)).spec
    assert spec.train.optimizer.name == "sgd"
    # adam-only keys left behind by a switch are reported, not silently dropped
    path.write_text("train:\n  optimizer: {name: adam, beta_1: 0.8}\n")
    assert "train.optimizer.beta_1: unknown key" in error_of(path, ("train.optimizer.name=sgd",))
