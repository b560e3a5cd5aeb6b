"""The lean in-memory data path (issue 15): the same numbers as before, with fewer copies.

The known values below were recorded with the code before the lean path (commit 306f28e):
the data fingerprint (sha256 of every split's x, y, w and head targets, `expctl.data.fingerprint`)
and the standardisation constants of `prepare` for each source, and the whole metrics.json of a
few small runs. A change in the split, the dtype or values of any array, the standardisation or
the training batches changes them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest

from expctl.data import prepare
from expctl.data.fingerprint import data_fingerprint
from expctl.spec import spec_from_dict

# ------------------------------------------------------------------------------- small files


def _columns(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Events with features of several dtypes, a weight and a binary label."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    return {
        "pt": rng.normal(100 + 20 * label, 10),  # float64
        "eta": rng.normal(0, 1, n).astype(np.float32),
        "mass": rng.normal(80 * label + 30, 5).astype(np.float32),
        "njets": rng.integers(0, 6, n).astype(np.int32),
        "w": rng.uniform(0.5, 1.5, n),
        "label": label.astype(np.int8),
    }


def _float32_columns(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """The shape of the benchmark's files: float32 features and an int8 label."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6), dtype=np.float32)
    logit = x @ np.linspace(-1, 1, 6, dtype=np.float32) + np.sin(2 * x[:, 0]) * x[:, 1]
    out = {f"f{j}": x[:, j].copy() for j in range(6)}
    out["label"] = (logit + 0.5 * rng.standard_normal(n, dtype=np.float32) > 0).astype(np.int8)
    return out


def _write_parquet(path: Path, columns: dict[str, np.ndarray], row_group: int = 500) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, row_group_size=row_group)


def _write_root(path: Path, columns: dict[str, np.ndarray]) -> None:
    uproot = pytest.importorskip("uproot")
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in columns.items()}).extend(columns)


def _with_nan(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in columns.items()}
    out["pt"][::37] = np.nan
    out["eta"][5::53] = np.inf
    return out


def _files(folder: Path) -> None:
    """Every file the cases below read, written with fixed seeds."""
    pytest.importorskip("pyarrow")
    _write_parquet(folder / "f32.parquet", _float32_columns(1500))
    _write_parquet(folder / "mixed.parquet", _columns(1200))
    _write_parquet(folder / "nan.parquet", _with_nan(_columns(1200, seed=4)))
    with_nan = _float32_columns(1100, seed=8)
    with_nan["f1"][::41] = np.nan
    with_nan["f4"][3::29] = -np.inf
    _write_parquet(folder / "f32_nan.parquet", with_nan)
    strings = _columns(900, seed=5)
    strings["kind"] = np.where(strings.pop("label") == 1, "signal", "background")
    _write_parquet(folder / "strings.parquet", strings)
    pd.DataFrame(_columns(1000, seed=2)).to_csv(folder / "ev.csv", index=False)
    rng = np.random.default_rng(3)
    x64 = rng.normal(size=(800, 4))
    np.savez(folder / "x64.npz", x=x64, y=(x64[:, 0] > 0).astype(np.int64), w=rng.uniform(size=800))
    np.savez(folder / "x32.npz", x=x64.astype(np.float32), y=(x64[:, 1] > 0).astype(np.int64))
    ev = _columns(700, seed=6)
    records = np.zeros(700, dtype=[(k, v.dtype) for k, v in ev.items()])
    for k, v in ev.items():
        records[k] = v
    with h5py.File(folder / "ev.h5", "w") as f:
        f.create_dataset("events", data=records)
        f.create_dataset("x", data=x64[:700].astype(np.float32))
        f.create_dataset("y", data=(x64[:700, 2] > 0).astype(np.int64))
    ev = _columns(600, seed=7)
    _write_root(
        folder / "sig.root", {k: v[ev["label"] == 1] for k, v in ev.items() if k != "label"}
    )
    _write_root(
        folder / "bkg.root", {k: v[ev["label"] == 0] for k, v in ev.items() if k != "label"}
    )


#: spec data sections (and model.heads where given) whose prepared arrays are checked
CASES: dict[str, dict[str, Any]] = {
    "parquet_float32": {"source": "parquet", "path": "f32.parquet", "target": "label"},
    "parquet_mixed_weighted": {
        "source": "parquet",
        "path": "mixed.parquet",
        "target": "label",
        "weight": "w",
    },
    "parquet_features_subsample": {
        "source": "parquet",
        "path": "mixed.parquet",
        "target": "label",
        "features": ["mass", "eta"],
        "n_samples": 700,
        "label_noise": 0.1,
    },
    "parquet_strings_unstandardized": {
        "source": "parquet",
        "path": "strings.parquet",
        "target": "kind",
        "standardize": False,
    },
    "parquet_nan_mean": {
        "source": "parquet",
        "path": "nan.parquet",
        "target": "label",
        "nan": "mean",
    },
    "parquet_nan_zero": {
        "source": "parquet",
        "path": "nan.parquet",
        "target": "label",
        "nan": "zero",
    },
    "parquet_nan_drop": {
        "source": "parquet",
        "path": "nan.parquet",
        "target": "label",
        "nan": "drop",
    },
    "parquet_float32_nan_mean": {
        "source": "parquet",
        "path": "f32_nan.parquet",
        "target": "label",
        "nan": "mean",
    },
    "parquet_float32_nan_drop": {
        "source": "parquet",
        "path": "f32_nan.parquet",
        "target": "label",
        "nan": "drop",
    },
    "csv": {"source": "csv", "path": "ev.csv", "target": "label", "weight": "w"},
    "csv_regression": {"source": "csv", "path": "ev.csv", "target": "pt", "task": "regression"},
    "npz_float64": {"source": "npz", "path": "x64.npz", "x": "x", "y": "y", "weight": "w"},
    "npz_float32": {"source": "npz", "path": "x32.npz", "x": "x", "y": "y"},
    "hdf5_table": {"source": "hdf5", "path": "ev.h5", "table": "events", "target": "label"},
    "hdf5_arrays": {"source": "hdf5", "path": "ev.h5", "x": "x", "y": "y"},
    "root_two_files": {
        "source": "root",
        "files": [{"path": "sig.root", "label": 1}, {"path": "bkg.root", "label": 0}],
        "weight": "w",
    },
    "root_float32_features": {
        "source": "root",
        "files": [{"path": "sig.root", "label": 1}, {"path": "bkg.root", "label": 0}],
        "features": ["eta", "mass"],
    },
    "jets": {"source": "jets", "n_samples": 900},
    "jets_multitask": {
        "data": {"source": "jets", "n_samples": 600},
        "heads": [
            {"name": "signal", "task": "binary", "target": "label"},
            {"name": "energy", "task": "regression", "target": "energy"},
        ],
    },
    "digits": {"source": "digits", "n_samples": 500},
    "digits_images": {
        "data": {"source": "digits", "images": True, "n_samples": 400},
        "model": {"type": "cnn"},
    },
}

#: recorded before the lean path: (data fingerprint, sha256 of the standardisation mean and std)
EXPECTED: dict[str, tuple[str, str]] = {
    "csv": (
        "sha256:141755a6814ba15350485f67fbf17cdb92c2f9c4ae5e9d8ddcae22b4602cd459",
        "4a8be918ba493b3a527fc85738dc71053ec61b536282f25a52026125c98dd4a6",
    ),
    "csv_regression": (
        "sha256:2227ea850c95a3bfa8aec560ec1eb41c7a6b5fdf74cd219bc86f9b9da2cef4de",
        "ec0203d80b46e9f73eacaf8d1e4a1e088af9aae37f76f1db4015d69bf1d4fbd6",
    ),
    "digits": (
        "sha256:f07d6e4dcf0ed94c3a9f4dbbc50c4dbeebe71cc39cc22f2b8b4253edc3db59fd",
        "214be52b329f4631bbbfa28012c1b361ceb84f9cba726cefd53b978baf73700c",
    ),
    "digits_images": (
        "sha256:04cca2d204491dff15a917d9b7b3000dd5f8da7ed6acb79d2e279e31489f13ba",
        "bb69716d4436397769f92ca79322f2744116d92ca7e7c70005fa802c62d6022e",
    ),
    "hdf5_arrays": (
        "sha256:2a68e6bdd1bd7f6e28f74eb1af8fae12f6cb0f0435e9d78cd19d8958e02c3558",
        "b701adabfdd1cfe43f730b528e00245ddfe27adcffcb20505ded5de7281d9927",
    ),
    "hdf5_table": (
        "sha256:482ec9961d7719f860dbdf65d35c917c1316c03f02fb512d81c126d6144579d7",
        "c674c4eb47b9ac86931574ac7f19e7f882d19af5236dced29a83c0cfbe426bc6",
    ),
    "jets": (
        "sha256:46145b7761b58aba74d173ec80120f6d899f5578d26daa9905446decd2937f27",
        "7fc4805a9ef3d3fb287afa482ad0ef408a2fb7f3c3bcd1fdbe0f7c1fe191de3f",
    ),
    "jets_multitask": (
        "sha256:a954b0566680a59ad0568394c1295fbb579e6d12fde7eac26fdcf6efb7d1742d",
        "d232bc1c45150636142a689f54f4b655c0f04d656eb58a1c6e7f9ae60c27d9ca",
    ),
    "npz_float32": (
        "sha256:6ab7ea2e97bdd4ee79ad809e78a062c6260b1b90774d88352ef27cfa9ea6b3d2",
        "becb3ab6027d80ea0cc3375b0078e3eb556c2dda726a79dbbed35f5df1eaac69",
    ),
    "npz_float64": (
        "sha256:b8a7369b4ba97ee770c430eabf5aa35c53aec5de1ea74c1d03cb7d15f17b63da",
        "6196251076a7405bdd126b6f3b603e556c603cb152dd3fe5f65b718fbbac13bc",
    ),
    "parquet_features_subsample": (
        "sha256:faed741b2f9af57c5862e882df41c1444b670cb7f9cac57d7e17f00b2ab7faa5",
        "992f66927764914586af959b11b413ba5f358fdd16f6ddac3b6e940e9eb90404",
    ),
    "parquet_float32": (
        "sha256:83240fc54c086cdbd53a932c94720edf0b0e3e61bd778101fa723ced65bea8e4",
        "f92a8cae56e5b543ddd114b45b98b89ee745bfff2f0580e3731ed42a07218a4b",
    ),
    "parquet_float32_nan_drop": (
        "sha256:b17d3ffde087fc5d4f43275c216d5be6b69f8e02dd32108e2acffe906cab802c",
        "297c616be65690cae31c5646346644fc1632461484c861ae997c715d33337ce2",
    ),
    "parquet_float32_nan_mean": (
        "sha256:93fafb8d2bd14a8bd74b6cd05bc64cd8f6bfaf5f77a73ebacf6e0d818ac2a4f8",
        "9cf7f8e8ad6288595b4a230140107d788b366b1bdf93570a380bdb73bece23f0",
    ),
    "parquet_mixed_weighted": (
        "sha256:36ea1106c5c8220f71b97972f46994799f35c1132b9f4d73709af3d52d962489",
        "793d9b0244d1899967aa8825eaa08ab96b6543eba68f3278a1f1dad906a3a85c",
    ),
    "parquet_nan_drop": (
        "sha256:073aacfedbb02e544c32d9cc919c6e2f3fdff3ed65837d7b93a89f2b115a2dec",
        "838b34814f27f638a88dc6ccf26fc72dbcc2e4eb12f2f37c617e45c820b8d700",
    ),
    "parquet_nan_mean": (
        "sha256:faab647e9709c7dff82d7e77c4c7a67ddca08e461d383bc4a805a7e801a2be36",
        "27ce5b3350f35eb553d85e1854f2506b3ba9ded90d8e903e58ff4616aa7457eb",
    ),
    "parquet_nan_zero": (
        "sha256:399c61b5cb57d9c9a7318c2b9d15998a7ce6de36137679b7a000ad0857b4a8c5",
        "353cde0fa878d4ca12dfae2345294e944078518ec66012448c74097832108c61",
    ),
    "parquet_strings_unstandardized": (
        "sha256:05a653dd5f5ca8c2af2483925cf9ddb5159422a7c9c4c5ccdd72dacddb68abef",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    "root_float32_features": (
        "sha256:5ec422618cd1a911ffa70b506916ca53ef953f8619fee25e6a9bc6c6f920cf73",
        "48b462058056246a05d72c5ba2ae9832783f5356d74d5befef7fd6d4f42b0c3e",
    ),
    "root_two_files": (
        "sha256:cb8dfc43db9413a3e7f271eb6f344e6dd7cfae202df0f29e06864dd2052f1c4c",
        "a9f6a8cee34683635c035b6b7236d59b7306c79ce69b90ee883f6b29ba46cd36",
    ),
}


def _prepared(case: str, folder: Path) -> Any:
    entry = CASES[case]
    data = entry.get("data", entry)
    model = entry.get("model", {"heads": entry["heads"]} if "heads" in entry else {})
    spec = spec_from_dict({"data": data, "model": model})
    return prepare(spec.data, folder, seed=11, heads=spec.model.heads or ())


def _constants(dataset: Any) -> str:
    digest = hashlib.sha256()
    for values in (dataset.mean, dataset.std):
        if values is not None:
            digest.update(np.asarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lean")
    _files(folder)
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_prepared_arrays_are_the_recorded_ones(case: str, files: Path) -> None:
    """The data path's output is pinned: a run's data.json fingerprint is what `resume` and
    `verify` check against, so a change here would refuse every existing run (recorded with
    306f28e, before the lean data path)."""
    dataset = _prepared(case, files)
    assert (data_fingerprint(dataset), _constants(dataset)) == EXPECTED[case]


def test_float32_columns_stay_float32_and_wider_ones_are_read_as_float64(files: Path) -> None:
    from expctl.data.sources import load_table

    def features(case: str) -> np.ndarray:
        return load_table(spec_from_dict({"data": CASES[case]}).data, files, 0).features

    assert features("parquet_float32").dtype == np.float32  # every column float32
    assert features("root_float32_features").dtype == np.float32
    assert features("npz_float32").dtype == np.float32
    assert features("parquet_mixed_weighted").dtype == np.float64  # pt is float64, njets int32
    assert features("csv").dtype == np.float64
    # the values are the file's, in its order
    written = _float32_columns(1500)
    got = features("parquet_float32")
    assert np.array_equal(got, np.column_stack([written[f"f{j}"] for j in range(6)]))


def test_parquet_is_read_in_batches_with_every_row_in_place(files: Path, monkeypatch) -> None:
    from expctl.data import sources
    from expctl.data.sources import load_table

    monkeypatch.setattr(sources._ParquetColumns, "BATCH", 128)  # 1500 rows: 12 batches
    spec = spec_from_dict({"data": CASES["parquet_float32"]}).data
    table = load_table(spec, files, 0)
    written = _float32_columns(1500)
    assert np.array_equal(table.features, np.column_stack([written[f"f{j}"] for j in range(6)]))
    assert np.array_equal(table.target, written["label"])


def test_the_whole_file_is_freed_before_the_standardisation(files: Path, monkeypatch) -> None:
    """prepare keeps no reference to the table: only the splits exist while np.std works."""
    import weakref

    from expctl.data import dataset as module

    seen: list[weakref.ref] = []
    load = module.load_table

    def load_and_watch(*args: Any) -> Any:
        table = load(*args)
        seen.append(weakref.ref(table.features))
        return table

    alive_at_std: list[bool] = []
    standardization = module.standardization

    def watched(x: np.ndarray) -> Any:
        alive_at_std.append(seen[0]() is not None)
        return standardization(x)

    monkeypatch.setattr(module, "load_table", load_and_watch)
    monkeypatch.setattr(module, "standardization", watched)
    dataset = _prepared("parquet_float32", files)
    assert alive_at_std == [False]
    parts = (dataset.train.x, dataset.val.x, dataset.test.x)
    assert all(x.dtype == np.float32 and x.flags.c_contiguous for x in parts)
    assert not any(np.shares_memory(a, b) for a in parts for b in parts if a is not b)


@pytest.mark.parametrize("shape", [(1000, 2), (1000, 3), (5000, 7), (3000, 28), (10, 1)])
def test_standardisation_in_column_blocks_gives_numpys_bits(shape, monkeypatch) -> None:
    from expctl.data import dataset as module

    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * rng.uniform(0.1, 50, shape[1]) + 7).astype(np.float32)
    monkeypatch.setattr(module, "STD_TEMPORARY", 8 * shape[0] * 2)  # blocks of 2 columns
    blocks = module._blocks(x)
    assert all(b.stop - b.start >= 2 for b in blocks) or shape[1] == 1
    assert [i for b in blocks for i in range(b.start, b.stop)] == list(range(shape[1]))
    mean, std = module.standardization(x)
    assert np.array_equal(mean, x.astype(np.float64).mean(axis=0))
    assert np.array_equal(std, x.astype(np.float64).std(axis=0))


def test_training_and_validation_batches_are_cut_from_the_arrays_themselves() -> None:
    """The pipelines hold no copy: a change to the arrays after they are built shows in them."""
    from expctl.training.pipeline import EpochBatches, ordered_batches

    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = {"a": np.arange(100), "b": np.arange(100, dtype=np.float64)}
    w = np.ones(100, dtype=np.float32)
    batches = EpochBatches(x, y, w, batch_size=32, seed=1)
    ordered = ordered_batches((x, y), 32)
    x += 1000
    first = next(iter(batches.dataset()))
    order = batches.permutation(0)[:32]
    assert np.array_equal(first[0].numpy(), x[order])
    assert first[1]["b"].dtype.name == "float32"  # float64 targets go in as float32, as in fit
    assert np.array_equal(first[1]["a"].numpy(), order)
    cut = list(ordered)
    assert [len(b[0]) for b in cut] == [32, 32, 32, 4]
    assert np.array_equal(np.concatenate([b[0].numpy() for b in cut]), x)
    assert np.array_equal(np.concatenate([b[1]["a"].numpy() for b in cut]), y["a"])


def test_predictions_in_chunks_equal_one_predict_call(monkeypatch) -> None:
    import keras

    from expctl.training import predict as module

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(loss="binary_crossentropy", steps_per_execution=4)
    x = np.random.default_rng(0).standard_normal((1000, 3)).astype(np.float32)
    monkeypatch.setattr(module, "PREDICT_BATCH", 64)
    monkeypatch.setattr(module, "PREDICT_GROUP", 4)  # 16 batches: 4 calls of 4
    chunked = module.model_predict(model, x)
    assert chunked.shape == (1000, 1)
    assert np.array_equal(chunked, model.predict(x, batch_size=64, verbose=0))


@pytest.mark.slow  # ~25 s: two `expctl run` processes (20,000 and 1,000,000 events)
def test_peak_memory_grows_by_less_than_twice_the_data(tmp_path: Path) -> None:
    """Peak RSS of a 1M-event run over a 20k-event one: < 2x the arrays (before: ~7x)."""
    import os
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    def write(path: Path, n: int) -> None:
        with pq.ParquetWriter(
            path,
            pa.schema(
                [
                    *(pa.field(f"f{j}", pa.float32()) for j in range(28)),
                    pa.field("label", pa.int8()),
                ]
            ),
        ) as writer:
            for start in range(0, n, 250_000):
                rng = np.random.default_rng(start)
                rows = min(250_000, n - start)
                x = rng.standard_normal((rows, 28), dtype=np.float32)
                columns = {f"f{j}": x[:, j] for j in range(28)}
                columns["label"] = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int8)
                writer.write_table(pa.table(columns))

    def peak(n: int) -> int:
        data, spec, out = tmp_path / f"{n}.parquet", tmp_path / f"{n}.yaml", tmp_path / f"out{n}"
        write(data, n)
        run = {
            "name": "memory",
            "data": {"source": "parquet", "path": str(data), "target": "label"},
            "model": {"type": "mlp", "hidden": [64, 64, 64]},
            "train": {"batch_size": 1024, "epochs": 1},
        }
        spec.write_text(yaml.safe_dump(run))
        cmd = [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        return usage.ru_maxrss * 1024

    data_bytes = 1_000_000 * (28 * 4 + 8)  # float32 features and int64 labels
    growth = peak(1_000_000) - peak(20_000)
    assert growth < 2 * data_bytes, f"{growth / 1e6:.0f} MB for {data_bytes / 1e6:.0f} MB of arrays"
