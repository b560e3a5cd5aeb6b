"""The lean in-memory data path (issue 15): the same numbers as before, with fewer copies.

The known values below were recorded with the code before the lean path (commit 306f28e), the
file sources' (csv, parquet, hdf5, root) again when their split became the event-identity split
that streamed runs share (issue 15; every other case unchanged):
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
        "sha256:cac50b0901342a67434a498f56e7fb4da41ffeae157d65e0c2ffbdf6fcc6dbcf",
        "1824d8d104b4cded8c878360a568c7c392870744ba05d58c63b10fe67c2f1237",
    ),
    "csv_regression": (
        "sha256:e3cb18f35070e235b5330c952d5dc2290a185aa0be5f828d06cf7b716f942336",
        "b3803f3bd9eaabd31c8bda726eafb99f773378d940048f546b0da64f7725990c",
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
        "sha256:5cfae58ead189910df4df05651c197ead33f0c87ec13cf86ec452835afcffc9c",
        "5d1022ec223715aa5c7f47dd659532db052f02d3f7d0c96b897c5450bf1dcb23",
    ),
    "hdf5_table": (
        "sha256:0f524e74ec80006959ce4d9d3a26d971550fa1f0f0ccf9a499ba1edb0e14e4f5",
        "aecee688818d075d684233a296053696f9c17ab620e421df4b5eb837e3e206b8",
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
        "sha256:f5bfcb3acfdc7b58751faddf9985365a9126abbd6201cb95979d1e8855ef020d",
        "e0df1abe3a4268fc2cd9b1f655d42fadd23b4cac51b02ef69187df6d25b1bdaf",
    ),
    "parquet_float32": (
        "sha256:b7cd689d19b3ff10d9380e9be35e7595e1a856979f0fd943204a4651dc13c765",
        "9673d4737b7cc117aa5f95eb74d536558ea0be903aa1f854589c3402aa46c2c3",
    ),
    "parquet_float32_nan_drop": (
        "sha256:35f8eb3fb74272ef72750ca9fc2fcdf6d5488ea3c92b72df2f5b9dcdfd045120",
        "87196cb6e829a5c893ad925e865b35938cd1f2503893c525f9373308e7ab177f",
    ),
    "parquet_float32_nan_mean": (
        "sha256:334af8f8aeb4c076bd3873435be6f37335f461b9c82e35bd05104862ea7bb028",
        "31c999df75018ff35465d94168b80a25902847c3626b2356b037b90358814921",
    ),
    "parquet_mixed_weighted": (
        "sha256:e45b8eccaa47c278de977180e91673a5c45f24d73952e7ea85b805f9af17618e",
        "c900f441f2d853bb75bd167add2dc195bfc3680512a331ae4dee35e96ba82087",
    ),
    "parquet_nan_drop": (
        "sha256:559e9d451ef3b5e759f34618184045600ee9fe02aaacaeb19ec2746ad1c389d1",
        "8c1de6ed6deb22bfd894f22208e380670df29904220d9ffcf293bc512a5ed580",
    ),
    "parquet_nan_mean": (
        "sha256:6d2961ae503038c957ac5f88e2a80078660c9efdb5a6a92fbf2f7478c49547f3",
        "94af55b51a52fca3e393e76c07e2fe27ce4f75c017443cfc2b6529ba68edafce",
    ),
    "parquet_nan_zero": (
        "sha256:4234667eb5c9d1990692dee6bd9eea14b6a16366da5cdf0bd8306d5101fc7ff3",
        "286193fa2cb789a687d24a2a75ecf5ba020099082bfcbf072bf15d73d174ee4d",
    ),
    "parquet_strings_unstandardized": (
        "sha256:0247eedf4e3e76b034d5af01b20f43f5370aa3ddccbbf08b2c7086ed2c54c399",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    "root_float32_features": (
        "sha256:a8a55ca11db051fc9bcf3b8b5e5caa3b2e2e308c69f2f563c79a3a5243763db8",
        "3134ca374ac9b25d86d8e4c0dfc3f7bc6ca2f55b2c9aab8bea161a9ec8c2c0ce",
    ),
    "root_two_files": (
        "sha256:c4517cadf56c5561a07abc4ce12356831cf201247843bf2476fe39720a54fe45",
        "b5cd4e76d0629e5fd4daf2f0bb88802614c3530407bab52f3d82a432ae698a10",
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
