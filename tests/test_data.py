"""Data: sources, task inference, stratified seeded split, train-only standardisation, bad files."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expctl.data import infer_task, prepare
from expctl.data.chunked import TRAIN, hash_split
from expctl.errors import DataError
from expctl.spec import spec_from_dict

SHARED = Path(
    os.environ.get("EXPCTL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)


def data_spec(**data):
    return spec_from_dict({"data": data}).data


def test_jets_split_is_stratified_seeded_and_disjoint() -> None:
    spec = data_spec(source="jets", n_samples=2000, split={"train": 0.5, "val": 0.25, "test": 0.25})
    a = prepare(spec, Path("."), seed=1)
    b = prepare(spec, Path("."), seed=1)
    c = prepare(spec, Path("."), seed=2)
    assert (len(a.train), len(a.val), len(a.test)) == (1000, 500, 500)
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(a, part).x, getattr(b, part).x)
        assert getattr(a, part).y.mean() == pytest.approx(0.5, abs=0.002)  # stratified
    assert not np.array_equal(a.test.x, c.test.x)
    rows = {tuple(r) for r in np.concatenate([a.train.x, a.val.x, a.test.x])}
    assert len(rows) == 2000
    assert a.task == "binary" and a.classes == (0, 1)
    assert a.feature_names == ("pt", "eta", "mass", "n_constituents", "width", "tau21", "c2")


def test_standardisation_uses_the_training_split_only() -> None:
    d = prepare(data_spec(source="jets", n_samples=1000), Path("."), seed=0)
    train = d.train.x.astype(np.float64)
    np.testing.assert_allclose(d.mean, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(d.std, train.std(axis=0), rtol=1e-6)
    everything = np.concatenate([d.train.x, d.val.x, d.test.x]).astype(np.float64)
    assert not np.allclose(d.mean, everything.mean(axis=0), rtol=1e-9)


def test_data_seed_fixes_the_data_independently_of_the_run_seed() -> None:
    spec = data_spec(source="jets", n_samples=500, seed=11)
    assert np.array_equal(
        prepare(spec, Path("."), seed=1).test.x, prepare(spec, Path("."), seed=2).test.x
    )


def test_jets_energy_regression_and_digits_multiclass() -> None:
    reg = prepare(data_spec(source="jets", n_samples=500, target="energy"), Path("."), seed=0)
    assert reg.task == "regression" and reg.classes is None and "energy" not in reg.feature_names
    digits = prepare(data_spec(source="digits"), Path("."), seed=0)
    assert digits.task == "multiclass" and digits.n_classes == 10 and digits.n_features == 64
    assert len(digits.train) + len(digits.val) + len(digits.test) == 1797
    # a constant pixel must not divide by zero
    assert np.all(digits.std > 0)


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.array([0, 1, 1, 0]), "binary"),
        (np.array([0.0, 1.0, 1.0]), "binary"),
        (np.array(["s", "b", "s"]), "binary"),
        (np.array([True, False]), "binary"),
        (np.array([0, 1, 2, 3]), "multiclass"),
        (np.array(["a", "b", "c"]), "multiclass"),
        (np.array([0.5, 1.2, 3.3]), "regression"),
        (np.arange(100), "regression"),
    ],
)
def test_infer_task(y: np.ndarray, task: str) -> None:
    assert infer_task(y) == task


def _csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    return path


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "label": rng.integers(0, 2, n)}
    )


def test_csv_with_string_labels_and_feature_subset(tmp_path: Path) -> None:
    frame = _frame()
    frame["label"] = np.where(frame["label"] == 1, "signal", "background")
    path = _csv(tmp_path, frame)
    d = prepare(
        data_spec(source="csv", path=str(path), target="label", features=["b"]), tmp_path, 0
    )
    assert (
        d.feature_names == ("b",) and d.classes == ("background", "signal") and d.task == "binary"
    )


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"target": "lable"}, "no column 'lable' (did you mean 'label'?)"),
        ({"features": ["a", "bb"]}, "'bb' (did you mean 'b'?)"),
        ({"features": ["a", "label"]}, "cannot also be a feature"),
        ({"path": "missing.csv"}, "not found"),
        ({"task": "multiclass", "features": ["a"]}, None),
    ],
)
def test_csv_errors(tmp_path: Path, change: dict, expect: str | None) -> None:
    path = _csv(tmp_path, _frame())
    spec = data_spec(**{"source": "csv", "path": "events.csv", "target": "label", **change})
    if expect is None:
        assert prepare(spec, tmp_path, 0).task == "multiclass"
        return
    with pytest.raises(DataError) as info:
        prepare(spec, tmp_path, 0)
    assert info.value.exit_code == 2 and expect in info.value.message
    assert path.exists()


def test_csv_bad_contents(tmp_path: Path) -> None:
    frame = _frame()
    frame["word"] = "x"
    _csv(tmp_path, frame)
    spec = data_spec(source="csv", path="events.csv", target="label")
    with pytest.raises(DataError, match="'word' are not numeric"):
        prepare(spec, tmp_path, 0)
    frame = _frame()
    frame.loc[3, "b"] = np.nan
    _csv(tmp_path, frame)
    with pytest.raises(DataError, match="'b' contain NaN"):
        prepare(spec, tmp_path, 0)
    (tmp_path / "events.csv").write_text("")
    with pytest.raises(DataError, match="cannot read as CSV"):
        prepare(spec, tmp_path, 0)
    frame = _frame()
    frame["label"] = 1
    _csv(tmp_path, frame)
    with pytest.raises(DataError, match="single class"):
        prepare(
            data_spec(source="csv", path="events.csv", target="label", task="multiclass"),
            tmp_path,
            0,
        )


def test_relative_paths_fall_back_to_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "shared"
    data_dir.mkdir()
    _frame().to_csv(data_dir / "events.csv", index=False)
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    spec = data_spec(source="csv", path="events.csv", target="label")
    monkeypatch.delenv("EXPCTL_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="set EXPCTL_DATA_DIR"):
        prepare(spec, spec_dir, 0)
    monkeypatch.setenv("EXPCTL_DATA_DIR", str(data_dir))
    # the file's events split by identity: (the path as the spec names it, entry, seed)
    codes = hash_split("events.csv", np.arange(len(_frame()), dtype=np.uint64), 0, 0.2, 0.2)
    assert len(prepare(spec, spec_dir, 0).train) == int(np.sum(codes == TRAIN)) == 121


def test_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    _frame().to_parquet(tmp_path / "events.parquet")
    spec = data_spec(source="parquet", path="events.parquet", target="label")
    assert prepare(spec, tmp_path, 0).n_features == 2


def test_npz_arrays_and_refusals(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "ok.npz", features=rng.normal(size=(100, 3)), labels=rng.integers(0, 2, 100)
    )
    d = prepare(data_spec(source="npz", path="ok.npz", x="features", y="labels"), tmp_path, 0)
    assert d.n_features == 3 and d.task == "binary"
    with pytest.raises(DataError, match="no array 'x'"):
        prepare(data_spec(source="npz", path="ok.npz"), tmp_path, 0)

    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}] * 60, dtype=object), y=np.zeros(60))
    with pytest.raises(DataError, match="never unpickles"):
        prepare(data_spec(source="npz", path="obj.npz"), tmp_path, 0)

    # a forged header declaring a huge array must be refused before any allocation
    header = np.lib.format.header_data_from_array_1_0(np.zeros((10, 3)))
    header["shape"] = (10**9, 3)
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as zf:
        with zf.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(np.zeros((10, 3)).tobytes())
        with zf.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(10))
    with pytest.raises(DataError, match="truncated or forged"):
        prepare(data_spec(source="npz", path="forged.npz"), tmp_path, 0)

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"cannot read as \.npz"):
        prepare(data_spec(source="npz", path="junk.npz"), tmp_path, 0)


@pytest.mark.skipif(
    not (SHARED / "higgs_uci_subset.csv").is_file(), reason="shared datasets not present"
)
def test_real_higgs_subset() -> None:
    spec = data_spec(source="csv", path="higgs_uci_subset.csv", target="label")
    d = prepare(spec, SHARED, 0)
    assert d.n_features == 28 and d.task == "binary"
    assert len(d.train) + len(d.val) + len(d.test) == 10984
