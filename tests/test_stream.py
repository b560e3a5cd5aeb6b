"""Streamed files (expctl.data.stream): one scan for the statistics, then each split by chunks.

The reference is the same files read whole into memory and split with the same identity split:
the scan's counts, classes and standardisation constants, and the events each split delivers,
must equal what numpy computes on those arrays, at every chunk size and in any file order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from expctl.data.chunked import TRAIN, hash_split
from expctl.data.dataset import standardization
from expctl.data.stream import StreamedFile, StreamedFiles, parts
from expctl.data.streamed import scan
from expctl.errors import DataError

FEATURES = ["pt", "eta", "mass"]


def _columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "pt": rng.exponential(50.0, n).astype(np.float32) + 1e4,  # a large offset
        "eta": rng.normal(0.0, 1.5, n).astype(np.float32),
        "mass": rng.normal(80.0, 10.0, n),  # float64: the features stay float64, as in memory
        "label": (rng.uniform(size=n) > 0.4).astype(np.int64),
        "w": rng.uniform(0.5, 1.5, n),
    }


def _parquet(folder: Path) -> StreamedFiles:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for i, n in enumerate((1_500, 800)):
        path = folder / f"part{i}.parquet"
        pq.write_table(pa.table(_columns(n, i)), path, row_group_size=400)
        files.append(StreamedFile(path, f"part{i}.parquet"))
    return StreamedFiles("parquet", files, FEATURES, "label", "w", seed=5)


def _root(folder: Path) -> StreamedFiles:
    """Two ROOT samples, one label each (signal 1, background 0), as `data.files` gives them."""
    import uproot

    files = []
    for i, label in enumerate((1, 0)):
        path = folder / f"sample{i}.root"
        cols = {k: v for k, v in _columns(700 + 300 * i, 10 + i).items() if k != "label"}
        with uproot.recreate(path) as fh:
            fh["Events"] = cols
        files.append(StreamedFile(path, f"sample{i}.root", {"tree": "Events"}, label=label))
    return StreamedFiles("root", files, FEATURES, None, "w", seed=5)


def _in_memory(spec: StreamedFiles) -> dict[str, np.ndarray]:
    """The reference: every file read whole, the identity split applied to all of it."""
    xs, ys, ws, splits, keys, entries = [], [], [], [], [], []
    for file in spec.files:
        if spec.source == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(file.path).to_pydict()
            cols = {k: np.asarray(v) for k, v in table.items()}
        else:
            import uproot

            with uproot.open(file.path) as fh:
                cols = fh["Events"].arrays(library="np")
        n = len(cols["pt"])
        xs.append(np.stack([cols[f] for f in FEATURES], axis=1))  # numpy's promotion: float64
        ys.append(np.full(n, file.label) if file.label is not None else cols["label"])
        ws.append(cols["w"])
        splits.append(hash_split(file.key, np.arange(n), spec.seed, spec.val, spec.test))
        keys += [file.key] * n
        entries.append(np.arange(n))
    return {
        "key": np.asarray(keys),
        "entry": np.concatenate(entries),
        "x": np.concatenate(xs),
        "y": np.concatenate(ys),
        "w": np.concatenate(ws),
        "split": np.concatenate(splits),
    }


@pytest.fixture(params=["parquet", "root"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StreamedFiles:
    return _parquet(tmp_path) if request.param == "parquet" else _root(tmp_path)


@pytest.mark.parametrize("rows", [1_000, 37])
def test_the_scan_equals_numpy_on_the_whole_files(spec: StreamedFiles, rows: int) -> None:
    ref = _in_memory(spec)
    result = scan(dataclasses.replace(spec, rows=rows), "error")
    codes = {"train": 0, "val": 1, "test": 2}
    assert result.counts == {k: int(np.sum(ref["split"] == c)) for k, c in codes.items()}
    assert sum(result.counts.values()) == len(ref["y"])
    train = ref["split"] == TRAIN
    classes = sorted({v for table in result.values.values() for v in table})
    assert classes == sorted(np.unique(ref["y"]).tolist())  # every event's, as in memory
    mean, std = result.moments.standardization()
    ref_mean, ref_std = standardization(ref["x"][train])
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_each_split_delivers_its_events_whatever_the_chunks_and_file_order(
    spec: StreamedFiles, split: str
) -> None:
    ref = _in_memory(spec)
    code = {"train": 0, "val": 1, "test": 2}[split]
    mine = ref["split"] == code
    for rows, files in ((1_000, spec.files), (37, spec.files[::-1])):
        reordered = StreamedFiles(
            spec.source, files, spec.features, spec.target, spec.weight, spec.seed
        )
        # with the split codes cached by a first pass, as every epoch after the scan reads
        cache: dict = {}
        for cached in (None, cache, cache):
            got_parts = list(parts(reordered, rows, want=code, cache=cached))
            assert all(len(p.entries) <= rows for p in got_parts)
            assert all(p.x.dtype == np.float64 for p in got_parts)  # one column is float64
            got = {
                (p.key, int(e)): (x.tolist(), y, w)
                for p in got_parts
                for e, x, y, w in zip(p.entries, p.x, p.y, p.w, strict=True)
            }
            expected = {
                (str(ref["key"][i]), int(ref["entry"][i])): (
                    ref["x"][i].tolist(),
                    ref["y"][i],
                    ref["w"][i],
                )
                for i in np.flatnonzero(mine)
            }
            assert got.keys() == expected.keys()
            for key, (x, y, w) in expected.items():
                assert got[key][0] == x and got[key][1] == y and got[key][2] == pytest.approx(w)


def test_a_format_that_cannot_stream_is_refused(tmp_path: Path) -> None:
    spec = StreamedFiles("npz", [StreamedFile(tmp_path / "x.npz", "x.npz")], FEATURES, "label")
    with pytest.raises(DataError, match="cannot be streamed; can: parquet, hdf5, root, csv"):
        next(parts(spec, 10))
