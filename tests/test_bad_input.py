"""Every kind of bad input: exit code 2, a message naming file, line and key, and nothing written.

One table per kind (spec text, data files, run references, model files); each case runs the real
command and checks the three things a user relies on.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from expctl.cli import cli

GOOD_HEAD = "name: x\ndata: {source: jets, n_samples: 200}\n"


def _run_spec(tmp_path: Path, text: str | bytes, *args: str) -> tuple[int, str, Path]:
    spec = tmp_path / "spec.yaml"
    if isinstance(text, bytes):
        spec.write_bytes(text)
    else:
        spec.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out), *args])
    return result.exit_code, result.output, out


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


SPEC_CASES = {
    "malformed YAML": ("name: x\nmodel: {hidden: [8\n", ["spec.yaml:", "YAML"]),
    "empty file": ("", ["empty"]),
    "a list at the top level": ("- name: x\n", ["a mapping"]),
    "duplicate keys": ("name: x\nname: y\n", ["spec.yaml:2", "duplicate key 'name'"]),
    "unknown key with a typo": (
        "name: x\nmodel: {hiden: [8]}\n",
        ["spec.yaml:2", "model.hiden", "did you mean 'hidden'"],
    ),
    "unknown section": ("name: x\ntrian: {epochs: 1}\n", ["trian", "did you mean 'train'"]),
    "wrong type": ("name: x\ntrain: {epochs: ten}\n", ["spec.yaml:2", "train.epochs"]),
    "YAML 1.1 boolean no": ("name: x\ntrain: {shuffle: no}\n", ["train.shuffle"]),
    "YAML 1.1 octal 010 is not 8": ("name: x\ntrain: {epochs: 010}\n", ["train.epochs"]),
    "dropout >= 1": ("name: x\nmodel: {dropout: 1.0}\n", ["model.dropout", "[0, 1)"]),
    "learning rate <= 0": (
        "name: x\ntrain: {optimizer: {name: adam, learning_rate: 0}}\n",
        ["train.optimizer.learning_rate", "greater than 0"],
    ),
    "NaN": ("name: x\nmodel: {l2: .nan}\n", ["model.l2"]),
    "infinity": ("name: x\nmodel: {l2: .inf}\n", ["model.l2"]),
    "batch size 0": ("name: x\ntrain: {batch_size: 0}\n", ["train.batch_size"]),
    "a Python object tag": (
        "name: !!python/object/apply:os.system ['echo pwned']\n",
        ["spec.yaml:1", "tag"],
    ),
    "an alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
            for p, n in zip("abcdefg", "bcdefgh", strict=True)
        )
        + "name: x\n",
        ["expands to more than"],
    ),
    "a huge file": ("name: x\n# " + "x" * 6_000_000 + "\n", ["larger than"]),
    "deep nesting": ("name: x\nmodel: " + "[" * 100 + "]" * 100 + "\n", ["nested deeper"]),
    "unknown optimizer": (
        "name: x\ntrain: {optimizer: {name: adamm}}\n",
        ["train.optimizer.name", "did you mean 'adam'"],
    ),
    "a name that would escape the output directory": (
        "name: ../../etc\n",
        ["spec.yaml:1: name", "got '../../etc'"],
    ),
    "not UTF-8": (b"name: \xff\xfe\n", ["spec.yaml", "UTF-8"]),
}


@pytest.mark.parametrize(("text", "expected"), SPEC_CASES.values(), ids=SPEC_CASES.keys())
def test_bad_spec(tmp_path: Path, text: str | bytes, expected: list[str]) -> None:
    code, output, out = _run_spec(tmp_path, text)
    assert code == 2, output
    for part in expected:
        assert part in output, (part, output)
    assert "Traceback" not in output
    assert _nothing_written(out)


def test_bad_set_override_names_the_argument(tmp_path: Path) -> None:
    code, output, out = _run_spec(tmp_path, GOOD_HEAD, "--set", "model.dropout=2")
    assert code == 2 and "--set model.dropout=2" in output and "model.dropout" in output
    assert _nothing_written(out)


def _csv(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _csv_spec(d: Path, text: str, target: str = "label", extra: str = "") -> str:
    return f"data: {{source: csv, path: {_csv(d, text)}, target: {target}{extra}}}"


def _table(n: int = 60) -> str:
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{b:.3f},{int(a > 0)}" for a, b in rng.normal(size=(n, 2)))
    return "a,b,label\n" + rows + "\n"


def _npz_with_object_array(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "|O", "fortran_order": False, "shape": (2,)}
            )
            fh.write(b"\x80\x04N.")  # a pickle: never to be loaded
        with archive.open("y.npy", "w") as fh:
            np.save(fh, np.array([0, 1]))


def _npz_with_forged_header(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 1000)}
            )
            fh.write(b"\0" * 64)
        with archive.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(10))


DATA_CASES = {
    "missing file": (
        lambda d: "data: {source: csv, path: nowhere.csv, target: label}",
        ["nowhere.csv", "not found"],
    ),
    "truncated CSV": (lambda d: _csv_spec(d, "a,b,label\n1,2\n3"), ["d.csv", "NaN"]),
    "binary garbage as CSV": (
        lambda d: (
            (d / "g.csv").write_bytes(bytes(range(256)) * 10),
            f"data: {{source: csv, path: {d / 'g.csv'}, target: label}}",
        )[1],
        ["g.csv"],
    ),
    "misspelt target column": (
        lambda d: _csv_spec(d, _table(), target="lable"),
        ["no column 'lable'", "did you mean 'label'"],
    ),
    "missing feature column": (
        lambda d: _csv_spec(d, _table(), extra=", features: [a, bb]"),
        ["'bb'", "did you mean 'b'"],
    ),
    "non-numeric feature": (
        lambda d: _csv_spec(d, "a,b,label\n" + "x,1,0\ny,2,1\n" * 40),
        ["'a'", "not numeric"],
    ),
    "NaN feature": (
        lambda d: _csv_spec(d, _table().replace("label\n", "label\nnan,1,0\n")),
        ["'a'", "NaN"],
    ),
    "npz with an object array": (
        lambda d: (
            _npz_with_object_array(d / "o.npz"),
            f"data: {{source: npz, path: {d / 'o.npz'}}}",
        )[1],
        ["o.npz", "Python objects"],
    ),
    "npz with a forged header": (
        lambda d: (
            _npz_with_forged_header(d / "f.npz"),
            f"data: {{source: npz, path: {d / 'f.npz'}}}",
        )[1],
        ["f.npz", "truncated or forged"],
    ),
}


@pytest.mark.parametrize(("make", "expected"), DATA_CASES.values(), ids=DATA_CASES.keys())
def test_bad_data(tmp_path: Path, make, expected: list[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    text = "name: x\n" + make(data) + "\n"
    code, output, out = _run_spec(tmp_path, text)
    assert code == 2, output
    for part in expected:
        assert part in output, (part, output)
    assert "Traceback" not in output
    assert _nothing_written(out)


RUN_REFS = {
    "dot-dot": ("..", ["'..'"]),
    "a path escaping with ..": ("{tmp}/../..", ["not a run directory"]),
    "a NUL byte": ("abc\0def", ["NUL"]),
    "an unknown id": ("20990101-000000-nothing", ["no run"]),
}


@pytest.mark.parametrize("command", ["show", "roc"])
@pytest.mark.parametrize(("ref", "expected"), RUN_REFS.values(), ids=RUN_REFS.keys())
def test_bad_run_reference(tmp_path: Path, command: str, ref: str, expected: list[str]) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    before = sorted(tmp_path.rglob("*"))
    ref = ref.replace("{tmp}", str(tmp_path))  # an existing folder outside, whatever the cwd
    result = CliRunner().invoke(cli, [command, ref, "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    for part in expected:
        assert part in result.output, (part, result.output)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_symlink_in_the_output_directory_is_not_followed(tmp_path: Path, trained_runs) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "elsewhere").symlink_to(trained_runs["binary"])
    listing = CliRunner().invoke(cli, ["list", str(out)])
    assert listing.exit_code == 0 and "elsewhere" not in listing.output.split("\n", 1)[-1]
    compared = CliRunner().invoke(cli, ["compare", str(out)])
    assert compared.exit_code == 2 and "holds no run directories" in compared.output


# ---------------------------------------------------------------------------------------- models


def _model_file(tmp_path: Path, config: dict, name: str = "m.keras") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
    return path


MODEL_CASES = {
    "a Lambda layer": (
        {"module": "keras.layers", "class_name": "Lambda", "config": {"function": "x"}},
        "Lambda layer",
    ),
    "an object from another module": (
        {"module": "os", "class_name": "system", "config": {}},
        "module 'os'",
    ),
    "a function outside Keras' activations and losses": (
        {
            "module": "keras.src.utils.file_utils",
            "class_name": "function",
            "config": "get_file",
        },
        "get_file",
    ),
    "a Lambda deep inside": (
        {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {"layers": [{"module": "keras.layers", "class_name": "TFOpLambda"}]},
        },
        "config.config.layers[0]",
    ),
}


@pytest.mark.parametrize(("config", "expected"), MODEL_CASES.values(), ids=MODEL_CASES.keys())
def test_crafted_model_configs_are_refused_before_keras_reads_them(
    tmp_path: Path, config: dict, expected: str
) -> None:
    from expctl.errors import BadInputError
    from expctl.models.io import check_model_file

    with pytest.raises(BadInputError) as info:
        check_model_file(_model_file(tmp_path, config))
    assert info.value.exit_code == 2 and expected in info.value.message


def test_legacy_h5_and_non_archives_are_refused(tmp_path: Path) -> None:
    from expctl.errors import BadInputError
    from expctl.models.io import load_model

    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(BadInputError, match="legacy HDF5"):
        load_model(h5)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match=r"not a readable \.keras archive"):
        load_model(junk)


def test_a_real_lambda_model_is_refused(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from expctl.errors import BadInputError
    from expctl.models.io import load_model

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(BadInputError, match="Lambda layer"):
        load_model(tmp_path / "lambda.keras")


def test_models_expctl_writes_pass_the_check(trained_runs) -> None:
    from expctl.models.io import check_model_file

    for run in trained_runs.values():
        check_model_file(run / "model.keras")


# ---------------------------------------------------------------------------------- data.nan


def _nan_table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    rows = ["a,b,label"]
    for i, (a, b) in enumerate(rng.normal(size=(200, 2))):
        a_text = "nan" if i in (3, 50) else ("inf" if i == 77 else f"{a:.4f}")
        rows.append(f"{a_text},{b:.4f},{int(b > 0)}")
    path = tmp_path / "nan.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("policy", ["drop", "zero", "mean"])
def test_data_nan_policies(tmp_path: Path, policy: str) -> None:
    from expctl.data import prepare
    from expctl.spec import spec_from_dict

    path = _nan_table(tmp_path)
    spec = spec_from_dict(
        {"data": {"source": "csv", "path": str(path), "target": "label", "nan": policy}}
    )
    dataset = prepare(spec.data, tmp_path, 0)
    parts = (dataset.train, dataset.val, dataset.test)
    assert all(np.isfinite(p.x).all() for p in parts)
    summary = dataset.summary()
    if policy == "drop":
        assert summary["nan_events_dropped"] == 3
        assert sum(len(p) for p in parts) == 197
    else:
        assert summary["nan_cells_filled"] == 3
        assert sum(len(p) for p in parts) == 200


def test_mean_fill_uses_the_training_split_only() -> None:
    from expctl.data.dataset import FILLS

    x = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0], [100.0, np.inf]])
    filled, count = FILLS["mean"](x, np.array([0, 1]))  # events 0 and 1 are the training split
    np.testing.assert_array_equal(filled, [[1, 4], [3, 4], [2, 8], [100, 4]])
    assert count == 3
    zeros, _ = FILLS["zero"](x, np.array([0, 1]))
    np.testing.assert_array_equal(zeros, [[1, 0], [3, 4], [0, 8], [100, 0]])


def test_single_class_in_the_test_split_warns_and_finishes(tmp_path: Path) -> None:
    from expctl.data.chunked import TRAIN, hash_split

    rng = np.random.default_rng(0)
    # A file's split is fixed by (its path as the spec names it, entry, seed): the two signal
    # events go where this file's split puts training events.
    split = hash_split("one.csv", np.arange(300, dtype=np.uint64), 3, 0.05, 0.05)
    y = np.zeros(300, int)
    y[np.flatnonzero(split == TRAIN)[:2]] = 1  # no signal event outside training
    rows = "\n".join(
        f"{a:.4f},{b:.4f},{label}"
        for (a, b), label in zip(rng.normal(size=(300, 2)), y, strict=True)
    )
    (tmp_path / "one.csv").write_text("a,b,label\n" + rows + "\n")
    spec = (
        "name: one\nseed: 3\n"
        "data: {source: csv, path: one.csv, target: label, "
        "split: {train: 0.9, val: 0.05, test: 0.05}}\n"
        "model: {hidden: [4]}\ntrain: {epochs: 1, batch_size: 32}\n"
    )
    from expctl.evaluation.metrics import UndefinedMetricWarning

    with pytest.warns(UndefinedMetricWarning, match="ROC AUC is undefined"):
        code, output, out = _run_spec(tmp_path, spec)
    assert code == 0, output
    assert "test auc nan" in output
    (run,) = list(out.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["auc"] is None  # NaN, recorded as null
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
