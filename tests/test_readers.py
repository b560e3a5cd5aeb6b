"""Chunked file readers (expctl.data.readers): the same events in any chunk size, every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from expctl.data.readers import READERS, Chunk, ChunkReadError
from expctl.errors import DataError

N = 1_000


def _columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "a": rng.normal(size=N).astype(np.float32),
        "b": rng.uniform(size=N).astype(np.float64),
        "label": (rng.uniform(size=N) > 0.5).astype(np.int32),
    }


def _write(kind: str, folder: Path) -> tuple[Path, dict]:
    cols = _columns()
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / "f.parquet"
        pq.write_table(pa.table(cols), path, row_group_size=300)  # 4 row groups
        return path, {}
    if kind == "csv":
        import pandas as pd

        path = folder / "f.csv"
        pd.DataFrame(cols).to_csv(path, index=False, float_format="%.9g")
        return path, {}
    if kind == "hdf5":
        import h5py

        path = folder / "f.h5"
        with h5py.File(path, "w") as fh:
            for name, values in cols.items():
                fh.create_dataset(name, data=values, chunks=(128,))
        return path, {}
    if kind == "root":
        import uproot

        path = folder / "f.root"
        with uproot.recreate(path) as fh:
            fh["Events"] = cols
        return path, {"tree": "Events"}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("rows", [1, 7, 300, 5_000])
def test_every_chunk_size_gives_the_same_events_in_order(
    kind: str, rows: int, tmp_path: Path
) -> None:
    path, options = _write(kind, tmp_path)
    chunks = list(READERS[kind](path, "f", ["a", "label"], rows, **options))
    assert all(isinstance(c, Chunk) and 0 < len(c) <= rows for c in chunks)
    # contiguous: each chunk starts where the last ended
    assert [c.start for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
    whole = {k: np.concatenate([c.columns[k] for c in chunks]) for k in ("a", "label")}
    expected = _columns()
    np.testing.assert_allclose(whole["a"], expected["a"], rtol=1e-7)
    assert np.array_equal(whole["label"], expected["label"])
    assert np.array_equal(np.concatenate([c.entries for c in chunks]), np.arange(N))


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_missing_column_or_file_is_refused_before_the_first_chunk(
    kind: str, tmp_path: Path
) -> None:
    path, options = _write(kind, tmp_path)
    with pytest.raises(DataError, match="'nope'") as caught:
        next(READERS[kind](path, "f", ["a", "nope"], 100, **options))
    assert not isinstance(caught.value, ChunkReadError)
    assert "label" in str(caught.value)  # what the file has
    with pytest.raises(DataError, match="no such file"):
        next(READERS[kind](tmp_path / "absent", "f", ["a"], 100, **options))


def test_a_corrupt_row_group_is_named_after_the_good_ones_were_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    rng = np.random.default_rng(1)
    table = pa.table({"a": rng.normal(size=4_000)})
    pq.write_table(table, path, row_group_size=1_000, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    third = meta.row_group(2).column(0)
    offset, size = third.data_page_offset, third.total_compressed_size
    data = bytearray(path.read_bytes())
    data[offset + 10 : offset + size - 10] = b"\xff" * (size - 20)  # garble row group 2's pages
    path.write_bytes(bytes(data))
    got = []
    with pytest.raises(ChunkReadError, match=r"c\.parquet: row group 2 of 4 \(entries from 2000\)"):
        for chunk in READERS["parquet"](path, "c", ["a"], 1_000):
            got.append(chunk.start)
    assert got == [0, 1_000]


def test_the_root_tree_is_named_and_a_wrong_one_refused(tmp_path: Path) -> None:
    path, _ = _write("root", tmp_path)
    with pytest.raises(DataError, match="no tree 'Jets'; the file has: Events"):
        next(READERS["root"](path, "f", ["a"], 10, tree="Jets"))
