"""Streamed runs (issue 15): the files read chunk by chunk give the run an in-memory read gives.

The split is a function of each event's identity (file, entry, seed), in memory and streamed, so
the same events land in the same split whatever the chunk size; the standardisation constants
are numpy's; with shuffling off a streamed run's metrics.json is the in-memory run's, byte for
byte; a streamed run interrupted by SIGINT and resumed ends as the uninterrupted one; a file
corrupted mid-stream fails the run naming it, a missing one is refused before anything is written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.data import is_streamed, prepare
from expctl.data.chunked import TRAIN, hash_split
from expctl.errors import DataError
from expctl.spec import spec_from_dict
from tests.signals import signal_mid_run

ROOT = Path(__file__).resolve().parents[1]


def _events(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    x[:, 2] += 50.0  # a large mean against the spread: the running moments must stay exact
    label = (x[:, 0] + 0.7 * x[:, 1] + 0.6 * rng.standard_normal(n) > 0).astype(np.int64)
    out = {f"f{j}": x[:, j].copy() for j in range(4)}
    out["w"] = rng.uniform(0.5, 2.0, n)
    out["label"] = label
    return out


def _write_parquet(path: Path, columns: dict[str, np.ndarray], row_group: int = 400) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, row_group_size=row_group)


def _write_root(path: Path, columns: dict[str, np.ndarray]) -> None:
    uproot = pytest.importorskip("uproot")
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in columns.items()}).extend(columns)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("streamed")
    ev = _events(3000, seed=1)
    _write_parquet(folder / "ev.parquet", ev)
    pd.DataFrame(ev).to_csv(folder / "ev.csv", index=False)
    records = np.zeros(3000, dtype=[(k, v.dtype) for k, v in ev.items()])
    for k, v in ev.items():
        records[k] = v
    with h5py.File(folder / "ev.h5", "w") as f:
        f.create_dataset("events", data=records)
    sig, bkg = _events(1300, seed=2), _events(1700, seed=3)
    _write_root(folder / "sig.root", {k: v for k, v in sig.items() if k != "label"})
    _write_root(folder / "bkg.root", {k: v for k, v in bkg.items() if k != "label"})
    nan = _events(2000, seed=4)
    nan["f1"][::37] = np.nan
    nan["f3"][5::53] = np.inf
    _write_parquet(folder / "nan.parquet", nan)
    return folder


SOURCES: dict[str, dict[str, Any]] = {
    "parquet": {"source": "parquet", "path": "ev.parquet", "target": "label", "weight": "w"},
    "csv": {"source": "csv", "path": "ev.csv", "target": "label"},
    "hdf5": {"source": "hdf5", "path": "ev.h5", "table": "events", "target": "label"},
    "root": {
        "source": "root",
        "files": [{"path": "sig.root", "label": 1}, {"path": "bkg.root", "label": 0}],
        "weight": "w",
    },
}


def _data(section: dict[str, Any], **keys: Any) -> Any:
    return spec_from_dict({"data": {**section, **keys}}).data


def _streamed_split(dataset: Any, split: str) -> tuple[np.ndarray, np.ndarray, Any]:
    xs, ys, ws = [], [], []
    for _, batch in dataset.parts(split):
        xs.append(batch.x)
        ys.append(batch.y)
        ws.append(batch.w)
    w = None if ws[0] is None else np.concatenate(ws)
    return np.concatenate(xs), np.concatenate(ys), w


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_streamed_splits_are_the_in_memory_ones_at_any_chunk_size(source: str, files: Path) -> None:
    memory = prepare(_data(SOURCES[source], stream=False), files, seed=7)
    assert not is_streamed(memory)
    for chunk in (97, 1000):
        streamed = prepare(_data(SOURCES[source], stream=True, chunk_size=chunk), files, seed=7)
        assert is_streamed(streamed)
        assert streamed.feature_names == memory.feature_names
        assert streamed.classes == memory.classes
        for split in ("train", "val", "test"):
            x, y, w = _streamed_split(streamed, split)
            mine = getattr(memory, split)
            assert len(getattr(streamed, split)) == len(mine)
            np.testing.assert_array_equal(x, mine.x)  # the same events, in the same order
            np.testing.assert_array_equal(y, mine.y)
            if mine.w is None:
                assert w is None
            else:
                np.testing.assert_array_equal(w, mine.w)
        # the standardisation constants: numpy's on the training split, to 1e-6 relative
        train = memory.train.x.astype(np.float64)
        np.testing.assert_allclose(streamed.mean, train.mean(axis=0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(streamed.std, train.std(axis=0), rtol=1e-6)
        assert streamed.summary()["class_counts"] == memory.summary()["class_counts"]


def test_the_split_is_the_identity_hash_of_each_event(files: Path) -> None:
    """Which events train: exactly those whose (file, entry, seed) hash says train."""
    memory = prepare(_data(SOURCES["parquet"], stream=False), files, seed=7)
    codes = hash_split("ev.parquet", np.arange(3000, dtype=np.uint64), 7, 0.2, 0.2)
    ev = _events(3000, seed=1)
    expected = np.column_stack([ev[f"f{j}"] for j in range(4)])[codes == TRAIN]
    np.testing.assert_array_equal(memory.train.x, expected)


@pytest.mark.parametrize("policy", ["drop", "zero", "mean"])
def test_nan_policies_and_label_noise_stream_as_in_memory(policy: str, files: Path) -> None:
    section = {"source": "parquet", "path": "nan.parquet", "target": "label", "nan": policy}
    section["label_noise"] = 0.1
    memory = prepare(_data(section, stream=False), files, seed=3)
    streamed = prepare(_data(section, stream=True, chunk_size=333), files, seed=3)
    for split in ("train", "val", "test"):
        x, y, _ = _streamed_split(streamed, split)
        mine = getattr(memory, split)
        np.testing.assert_allclose(x, mine.x, rtol=0, atol=0)
        np.testing.assert_array_equal(y, mine.y)  # label noise: the same events flipped
    np.testing.assert_allclose(streamed.mean, memory.mean, rtol=1e-9)
    np.testing.assert_allclose(streamed.std, memory.std, rtol=1e-9)
    flipped = memory.extra["label_noise_flipped"]
    assert 0.05 * len(memory.train) < flipped < 0.15 * len(memory.train)


def test_auto_streams_above_the_memory_budget_and_says_why(files: Path) -> None:
    section = SOURCES["parquet"]
    assert not is_streamed(prepare(_data(section, memory_budget="1GB"), files, seed=0))
    streamed = prepare(_data(section, memory_budget="10kB"), files, seed=0)
    assert is_streamed(streamed)
    reason = streamed.extra["streamed"]["reason"]
    assert "exceed the memory budget" in reason and "0.0 GB" in reason


def test_streaming_refuses_what_it_cannot_do(files: Path) -> None:
    with pytest.raises(DataError, match="n_samples"):
        prepare(_data(SOURCES["parquet"], stream=True, n_samples=500), files, seed=0)
    with pytest.raises(DataError, match="no column 'F1'; columns: f0, f1, f2, f3, w, label"):
        prepare(_data(SOURCES["parquet"], stream=True, features=["F1"]), files, seed=0)


# ------------------------------------------------------------------------------- pipeline


def test_the_training_pipeline_delivers_the_shuffled_batches_of_each_epoch(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StreamedBatches' tf.data epochs are `batches` with seed (run seed, epoch): the first
    epoch (its buffer filled before its seed was known) and a later one; never through a
    generator dataset (which sets glibc's trim threshold for the whole process)."""
    import tensorflow as tf

    from expctl.training.pipeline import StreamedBatches

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("from_generator used")

    monkeypatch.setattr(tf.data.Dataset, "from_generator", refused)
    section = {**SOURCES["parquet"], "stream": True, "chunk_size": 250, "shuffle_buffer": 500}
    data = prepare(_data(section), files, seed=7)
    batches = StreamedBatches(data, 64, seed=11, shuffle=True, class_weight=None)
    n = len(data.train)
    for epoch in (4, 1):
        batches.set_epoch(epoch)
        got = list(batches.dataset())
        assert len(got) == batches.steps == -(-n // 64)
        want = list(data.batches("train", 64, (11, epoch), batches.weight))
        for (x, y, w), (wx, wy, ww) in zip(got, want, strict=True):
            np.testing.assert_array_equal(x.numpy(), wx)
            np.testing.assert_array_equal(y.numpy(), wy)
            np.testing.assert_array_equal(w.numpy(), ww)
    first = np.concatenate([b[0] for b in data.batches("train", 64, (11, 4), batches.weight)])
    other = np.concatenate([b[0] for b in data.batches("train", 64, (11, 1), batches.weight)])
    assert not np.array_equal(first, other)  # the epochs differ
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(other, axis=0))


def test_batches_read_for_an_epoch_that_never_comes_are_let_go(files: Path) -> None:
    """A StreamedBatches dropped before training: its reading threads (waiting for a seed with
    a full buffer) end, and the buffer is freed."""
    import gc
    import threading

    from expctl.training.pipeline import StreamedBatches

    def readers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "expctl-read" and t.is_alive()}

    before = readers()  # other tests' readers in this process: not this test's to wait for
    section = {**SOURCES["parquet"], "stream": True, "chunk_size": 250, "shuffle_buffer": 500}
    batches = StreamedBatches(prepare(_data(section), files, seed=7), 64, 3, True, None)
    time.sleep(0.3)
    ours = readers() - before
    assert ours  # reading before the epoch is known
    del batches
    gc.collect()  # the object may sit in cycles that its first imports left behind
    gc.disable()  # from here by reference counting alone: no collection to count on
    try:
        deadline = time.monotonic() + 10
        while any(t.is_alive() for t in ours) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        gc.enable()
    assert not any(t.is_alive() for t in ours)


# ------------------------------------------------------------------------------------ runs


def _spec(folder: Path, name: str, data: dict[str, Any], **train: Any) -> Path:
    spec = {
        "name": name,
        "seed": 4,
        "data": data,
        "model": {"hidden": [8], "dropout": 0.1},
        "train": {"epochs": 2, "batch_size": 64, **train},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(spec: Path, out: Path) -> Path:
    before = set(out.iterdir()) if out.exists() else set()
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = set(out.iterdir()) - before
    return run


@pytest.mark.parametrize(
    ("source", "keys", "train"),
    [
        ("parquet", {}, {}),
        ("root", {}, {}),
        # class weights on top of event weights; NaN features filled with the training mean;
        # the validation events read from the file every epoch (a budget too small to keep them)
        ("nan", {"nan": "mean", "memory_budget": "1kB"}, {"class_weight": "balanced"}),
    ],
)
def test_without_shuffling_a_streamed_run_is_the_in_memory_run(
    source: str, keys: dict[str, Any], train: dict[str, Any], files: Path, tmp_path: Path
) -> None:
    for name in ("ev.parquet", "sig.root", "bkg.root", "nan.parquet"):
        (tmp_path / name).symlink_to(files / name)
    section = SOURCES.get(source) or {
        "source": "parquet",
        "path": "nan.parquet",
        "target": "label",
        "weight": "w",
    }
    memory = _spec(tmp_path, "mem", {**section, **keys, "stream": False}, shuffle=False, **train)
    streamed = _spec(
        tmp_path,
        "str",
        {**section, **keys, "stream": True, "chunk_size": 250},
        shuffle=False,
        **train,
    )
    a, b = _run(memory, tmp_path / "out"), _run(streamed, tmp_path / "out")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    assert (a / "history.csv").read_text().count("\n") == 3
    with np.load(a / "predictions.npz") as pa, np.load(b / "predictions.npz") as pb:
        assert sorted(pa.files) == sorted(pb.files)
        for key in pa.files:
            np.testing.assert_array_equal(pa[key], pb[key])
    data = json.loads((b / "data.json").read_text())
    assert data["streamed"]["chunk_size"] == 250
    assert data["fingerprint"].startswith("sha256-streamed:")


def test_a_shuffled_streamed_run_is_reproducible_and_verifies(files: Path, tmp_path: Path) -> None:
    (tmp_path / "ev.parquet").symlink_to(files / "ev.parquet")
    section = {**SOURCES["parquet"], "stream": True, "chunk_size": 300, "shuffle_buffer": 700}
    spec = _spec(tmp_path, "shuf", section)
    a, b = _run(spec, tmp_path / "out"), _run(spec, tmp_path / "out")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    result = CliRunner().invoke(cli, ["verify", str(a), "--epochs", "1"])
    assert result.exit_code == 0, result.output


def _wait_for_epochs(proc: subprocess.Popen, out: Path, epochs: int) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for history in out.glob("*/history.csv") if out.exists() else []:
            try:
                if len(history.read_text().splitlines()) - 1 >= epochs:
                    return history.parent
            except OSError:
                continue
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run did not reach its epochs in time")


@pytest.mark.slow  # ~40 s: three streamed runs of 8 epochs
def test_a_streamed_run_interrupted_by_sigint_resumes_to_the_uninterrupted_one(
    files: Path, tmp_path: Path
) -> None:
    (tmp_path / "ev.parquet").symlink_to(files / "ev.parquet")
    section = {**SOURCES["parquet"], "stream": True, "chunk_size": 200, "shuffle_buffer": 900}
    spec = _spec(tmp_path, "sig", section, epochs=8, batch_size=16)
    reference = _run(spec, tmp_path / "reference")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = _wait_for_epochs(proc, out, 2)
    time.sleep(0.05)
    signal_mid_run(proc, run, signal.SIGINT, 8)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted"
    result = CliRunner().invoke(cli, ["resume", str(run), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert (run / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()

    def history(path: Path) -> list[str]:
        rows = (path / "history.csv").read_text().splitlines()
        header = rows[0].split(",")
        at = header.index("epoch_time_s")
        return [",".join(c for i, c in enumerate(r.split(",")) if i != at) for r in rows]

    assert history(run) == history(reference)


def test_a_missing_file_among_several_is_refused_before_anything_is_written(
    files: Path, tmp_path: Path
) -> None:
    (tmp_path / "sig.root").symlink_to(files / "sig.root")
    section = {
        "source": "root",
        "stream": True,
        "files": [{"path": "sig.root", "label": 1}, {"path": "gone.root", "label": 0}],
    }
    spec = _spec(tmp_path, "missing", section)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert "data.files[1]" in result.output and "gone.root" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_a_file_corrupted_mid_stream_fails_the_run_naming_it(tmp_path: Path) -> None:
    """The scan reads the file whole; then (as if the disk went bad) a row group is garbled
    before the second epoch: the run ends failed naming the file and the row group, exit 1,
    its first epoch kept."""
    path = tmp_path / "ev.parquet"
    _write_parquet(path, _events(3000, seed=1), row_group=500)
    section = {**SOURCES["parquet"], "stream": True, "chunk_size": 500, "shuffle_buffer": 0}
    spec = _spec(tmp_path, "corrupt", section, epochs=3)
    script = f"""
import sys
import keras
from pathlib import Path
from expctl.runner import RunHooks, run
from expctl.spec import load_spec
from expctl.errors import RunFailedError

path = Path({str(path)!r})

class Garble(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            import pyarrow.parquet as pq
            meta = pq.ParquetFile(path).metadata.row_group(3).column(1)
            data = bytearray(path.read_bytes())
            start = meta.data_page_offset
            data[start : start + 64] = bytes(64)
            path.write_bytes(bytes(data))

try:
    run(load_spec(Path({str(spec)!r})), Path({str(tmp_path / "out")!r}), hooks=RunHooks(callbacks=[Garble()]))
except RunFailedError as exc:
    print(exc)
    sys.exit(1)
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (run,) = (tmp_path / "out").iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed"
    assert "ev.parquet" in status["error"] and "row group 3" in status["error"]
    assert (run / "history.csv").read_text().count("\n") == 2  # the header and epoch 1


def test_a_multitask_streamed_run_is_the_in_memory_run(files: Path, tmp_path: Path) -> None:
    """Two heads (a binary label and a regression target, neither a feature): the same
    metrics.json, every head's, streamed and in memory, without shuffling."""
    ev = _events(2500, seed=9)
    ev["energy"] = (3.0 * ev["f0"] + ev["f2"] + 0.1).astype(np.float64)
    _write_parquet(tmp_path / "mt.parquet", ev)
    heads = [
        {"name": "signal", "task": "binary", "target": "label"},
        {"name": "energy", "task": "regression", "target": "energy"},
    ]
    paths = []
    for name, stream in (("mem", False), ("str", True)):
        data = {"source": "parquet", "path": "mt.parquet", "target": "label", "stream": stream}
        spec = {
            "name": name,
            "seed": 2,
            "data": {**data, "chunk_size": 400},
            "model": {"hidden": [8], "heads": heads},
            "train": {"epochs": 2, "batch_size": 64, "shuffle": False},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec))
        paths.append(path)
    a, b = (_run(p, tmp_path / "out") for p in paths)
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    assert set(ma["heads"]) == {"signal", "energy"}
    assert ma == mb
    da, db = (json.loads((r / "data.json").read_text()) for r in (a, b))
    assert da["features"] == db["features"] == ["f0", "f1", "f2", "f3", "w"]
    assert da["heads"] == db["heads"]


def test_many_files_are_mixed_a_window_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten ROOT files (five signal, five background) read three at a time when shuffling: every
    training event exactly once, and both classes among the first chunks."""
    from expctl.data import streamed

    monkeypatch.setattr(streamed, "OPEN_FILES", 3)
    files = []
    for i in range(10):
        ev = {k: v for k, v in _events(300, seed=20 + i).items() if k != "label"}
        _write_root(tmp_path / f"f{i}.root", ev)
        files.append({"path": f"f{i}.root", "label": int(i < 5)})
    section = {"source": "root", "files": files, "stream": True, "chunk_size": 50}
    dataset = prepare(_data(section), tmp_path, seed=1)

    def ids(order: str) -> list[tuple[str, int]]:
        return [
            (part.key, int(e)) for part, _ in dataset.parts("train", order) for e in part.entries
        ]

    mixed, in_order = ids("mixed"), ids("file")
    assert sorted(mixed) == sorted(in_order) and len(set(mixed)) == len(mixed)
    assert mixed != in_order
    first = [batch.y for _, batch in list(dataset.parts("train", "mixed"))[:6]]
    assert set(np.concatenate(first).tolist()) == {0, 1}
