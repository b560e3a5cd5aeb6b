"""Data at scale: peak memory and training speed against the number of events (issue 15).

    uv run python benchmarks/bench_scale.py [--events 1M,4M] [--large] [--repeats 3]
        [--methods expctl,handwritten] [--compare-tree DIR] [--cache DIR] [--generate-only]

Generates Parquet files of N events x 28 float32 features and a binary `label` (a HIGGS-like
shape) in chunks of 250,000 rows, one row group each, so no file is ever whole in memory; files
are cached (default: $XDG_CACHE_HOME/expctl-bench-scale) and reused when their size matches.
`--large` adds the 16M and 40M files (~2.8 and ~6.9 GB on disk).

For each file and method it trains the same model (MLP 64x3, batch 1024, one epoch, 60/20/20
split) in a fresh process, so each peak RSS is that process's own (the kernel's ru_maxrss of the
waited-for child, from os.wait4, as /usr/bin/time reports it); the methods are interleaved within
each repeat (expctl, handwritten, expctl, handwritten, ...) so load on the machine hits all alike,
and the table shows medians over --repeats. Training samples/s are training events over the
summed epoch times (epoch begin to end, validation included: history.csv's epoch_time_s).
Methods (`METHODS`, one entry each, so streaming is one more line):
- expctl: `python -m expctl run` on a spec reading the file with `data.source: parquet` in memory
  (`data.stream: false`);
- streamed: the same spec with `data.stream: true` and `data.memory_budget: 2GB` (chunks of 65,536
  events, a shuffle buffer of 1,000,000; validation events kept in memory only when they take at
  most 1/8 of the budget: up to 1.9M of them here, so at 16M and 40M events they are read from
  the file every epoch);
- handwritten: the job written by hand the naive way (pandas.read_parquet, to_numpy, scikit-learn
  split, standardise, keras `model.fit` on the arrays with its defaults, predict the test split,
  AUC), its epochs timed by a callback;
- with --compare-tree DIR: also the expctl package in DIR (e.g. `git archive` of an older commit
  unpacked there), for before/after numbers in one table (in memory, and streamed when the
  methods include streamed).
Wall time covers everything the process does (start-up, reading, training, evaluation, outputs).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

N_FEATURES = 28
CHUNK = 250_000
DEFAULT_EVENTS = (1_000_000, 4_000_000)
LARGE_EVENTS = (16_000_000, 40_000_000)
HIDDEN = (64, 64, 64)
BATCH = 1024
EPOCHS = 1
SEED = 1


# ------------------------------------------------------------------------------------------ data


def _chunk(index: int, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Rows of chunk `index`: a function of (seed, index) alone, so a file is the same whatever
    order or machine it is written in. Signal and background differ by a non-linear boundary."""
    rng = np.random.default_rng([seed, index])
    x = rng.standard_normal((rows, N_FEATURES), dtype=np.float32)
    direction = np.random.default_rng([seed, 2**31]).standard_normal(N_FEATURES)
    logit = (
        x @ direction.astype(np.float32) / np.float32(np.sqrt(N_FEATURES))
        + np.sin(2 * x[:, 0]) * x[:, 1]
        + 0.5 * rng.standard_normal(rows, dtype=np.float32)
    )
    columns = {f"f{j}": np.ascontiguousarray(x[:, j]) for j in range(N_FEATURES)}
    columns["label"] = (logit > 0).astype(np.int8)
    return columns


def write_parquet(path: Path, events: int, chunk: int = CHUNK, seed: int = 0) -> Path:
    """Write `events` rows to `path` in row groups of `chunk` rows (at most one chunk in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".part")
    writer = None
    try:
        for index, start in enumerate(range(0, events, chunk)):
            table = pa.table(_chunk(index, min(chunk, events - start), seed))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=chunk)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return path


def dataset(folder: Path, events: int) -> Path:
    """The cached file of `events` rows, written first if missing or of another size."""
    import pyarrow.parquet as pq

    path = folder / f"scale_{events}x{N_FEATURES}.parquet"
    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == events:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_parquet(path, events)
    size = path.stat().st_size / 2**20
    print(
        f"wrote {path} ({events:,} events, {size:,.0f} MiB) in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    return path


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "expctl-bench-scale"


def parse_count(text: str) -> int:
    """1M, 4M, 250k, 40000000 -> a number of events."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# --------------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Measurement:
    """One process: peak RSS (bytes), wall time (s), training samples/s, test AUC."""

    peak_rss: int
    wall: float
    samples_per_s: float
    auc: float


def measure(
    cmd: list[str], result: Callable[[], tuple[float, float]], cwd: Path | None = None
) -> Measurement:
    """Run `cmd` in a fresh process; its own peak RSS comes back from wait4 with its exit status.

    `result` reads (training samples/s, test AUC) from what the process wrote.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()  # until the child closes it (exits): a full pipe cannot block it
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        tail = stderr.decode(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {code}:\n{tail}")
    samples, auc = result()
    return Measurement(usage.ru_maxrss * 1024, wall, samples, auc)


def expctl_method(tree: Path | None = None, **data: Any) -> Callable[[Path, Path], Measurement]:
    """`expctl run` of the benchmark's spec, `data` added to its data section (e.g. stream=True);
    with `tree`, the expctl package of that source tree (e.g. `git archive` of an older commit)."""

    def method(path: Path, work: Path) -> Measurement:
        import yaml

        spec = work / "spec.yaml"
        out = work / "runs"
        spec.write_text(
            yaml.safe_dump(
                {
                    "name": "scale",
                    "seed": SEED,
                    "data": {"source": "parquet", "path": str(path), "target": "label", **data},
                    "model": {"type": "mlp", "hidden": list(HIDDEN)},
                    "train": {"batch_size": BATCH, "epochs": EPOCHS},
                },
                sort_keys=False,
            )
        )

        def result() -> tuple[float, float]:
            (run,) = out.iterdir()
            record = json.loads((run / "data.json").read_text())
            metrics = json.loads((run / "metrics.json").read_text())
            with (run / "history.csv").open() as fh:
                fit = sum(float(row["epoch_time_s"]) for row in csv.DictReader(fh))
            return record["n_train"] * EPOCHS / fit, metrics["auc"]

        cmd = [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"]
        return measure(cmd, result, cwd=tree)  # `-m` finds the package in the working directory

    return method


def _handwritten(path: Path, work: Path) -> Measurement:
    out = work / "result.json"

    def result() -> tuple[float, float]:
        record = json.loads(out.read_text())
        return record["samples_per_s"], record["auc"]

    return measure([sys.executable, __file__, "--handwritten", str(path), str(out)], result)


#: What is measured, by name: (data file, an empty work folder) -> one fresh process's numbers.
#: Streaming (issue 15, part 2) is one more entry: "expctl-stream": expctl_method(stream=True).
METHODS: dict[str, Callable[[Path, Path], Measurement]] = {
    "expctl": expctl_method(stream=False),
    # a 2 GB budget: the validation events are read from the file every epoch (they would be
    # kept in memory below 1/8 of the budget), as on a machine that cannot hold them
    "streamed": expctl_method(stream=True, memory_budget="2GB"),
    "handwritten": _handwritten,
}

#: How each method is named in the table.
LABELS = {
    "expctl": "expctl in memory",
    "streamed": "expctl streaming (data.stream: true)",
    "handwritten": "hand-written pandas + Keras",
}


def handwritten(data: str, out: str) -> None:
    """The job written by hand, naively: what expctl should cost nothing over (run in its own process)."""
    import keras
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(SEED)
    df = pd.read_parquet(data)
    x = df.drop(columns="label").to_numpy(np.float32)
    y = df["label"].to_numpy(np.float32)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, train_size=0.6, random_state=SEED)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SEED
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))

    model = keras.Sequential([keras.Input((x.shape[1],))])
    for units in HIDDEN:
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    times: list[float] = []

    class EpochTimes(keras.callbacks.Callback):  # what expctl's history.csv calls epoch_time_s
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.start)

    model.fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=EPOCHS,
        validation_data=(x_val, y_val),
        callbacks=[EpochTimes()],
        verbose=0,
    )
    score = model.predict(x_test, batch_size=BATCH, verbose=0).ravel()
    auc = float(roc_auc_score(y_test, score))
    Path(out).write_text(
        json.dumps({"samples_per_s": len(x_train) * EPOCHS / sum(times), "auc": auc})
    )


# ------------------------------------------------------------------------------------------ main


def table(results: dict[tuple[int, str], list[Measurement]]) -> str:
    """The markdown table of the medians, one row per (events, method)."""
    lines = [
        "| events | method | peak RSS (GB) | training samples/s | wall (s) | test AUC |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for (events, method), runs in results.items():
        med = statistics.median
        lines.append(
            f"| {events:,} | {LABELS.get(method, method)} "
            f"| {med(m.peak_rss for m in runs) / 1e9:.2f} "
            f"| {med(m.samples_per_s for m in runs):,.0f} "
            f"| {med(m.wall for m in runs):.1f} "
            f"| {med(m.auc for m in runs):.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default=",".join(f"{n // 10**6}M" for n in DEFAULT_EVENTS))
    parser.add_argument("--large", action="store_true", help="also 16M and 40M events")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--compare-tree",
        type=Path,
        default=None,
        help="also run the expctl of this source tree (e.g. `git archive` of an older commit)",
    )
    parser.add_argument("--cache", type=Path, default=None, help="where the files are kept")
    parser.add_argument("--generate-only", action="store_true", help="write the files and stop")
    parser.add_argument("--handwritten", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.handwritten:
        handwritten(*args.handwritten)
        return
    counts = [parse_count(c) for c in args.events.split(",") if c.strip()]
    if args.large:
        counts += [n for n in LARGE_EVENTS if n not in counts]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; one of {', '.join(METHODS)}")
    if args.compare_tree is not None:
        tree = args.compare_tree.resolve()
        if not (tree / "expctl" / "__init__.py").is_file():
            parser.error(f"--compare-tree: no expctl package in {tree}")
        METHODS["tree"] = expctl_method(tree)
        LABELS["tree"] = f"expctl of {tree.name}"
        if "streamed" in methods:  # its streaming too, beside this tree's
            METHODS["tree-streamed"] = expctl_method(tree, stream=True, memory_budget="2GB")
            LABELS["tree-streamed"] = f"expctl of {tree.name} streaming"
            methods.insert(0, "tree-streamed")
        methods.insert(0, "tree")
    cache = args.cache or default_cache()
    files = {n: dataset(cache, n) for n in counts}
    if args.generate_only:
        return
    load_before = os.getloadavg()
    results: dict[tuple[int, str], list[Measurement]] = {
        (n, m): [] for n in counts for m in methods
    }
    for n in counts:
        for repeat in range(args.repeats):
            for method in methods:
                with tempfile.TemporaryDirectory() as tmp:
                    m = METHODS[method](files[n], Path(tmp))
                results[(n, method)].append(m)
                print(
                    f"{n:,} events, {method}, repeat {repeat + 1}: peak RSS "
                    f"{m.peak_rss / 1e9:.2f} GB, {m.samples_per_s:,.0f} samples/s, "
                    f"wall {m.wall:.1f} s, AUC {m.auc:.4f}",
                    file=sys.stderr,
                )
    load_after = os.getloadavg()
    print(
        f"MLP {'x'.join(map(str, HIDDEN))}, batch {BATCH}, {EPOCHS} epoch, {N_FEATURES} float32 "
        f"features, 60/20/20 split; medians of {args.repeats} interleaved repeat(s); "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
