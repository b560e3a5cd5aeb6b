"""Peak memory (RSS) of `expctl predict` on Parquet files much larger than its chunk.

    uv run python benchmarks/bench_predict.py [--events 500000,4000000] [--repeat 3]

A tiny run is trained once (jets, 1 epoch); then, for each size, a Parquet file of that many
generated events (the 7 jet features as float32 and an int64 event number, row groups of
65,536) is scored by `python -m expctl predict RUN FILE --out OUT --keep event` in a fresh
process, `--repeat` times. The peak resident set size comes from the kernel (getrusage of the
waited-for child, ru_maxrss). Printed: per size the file's size on disk and in memory (the
events as arrays), the median peak RSS and the median wall time. Streaming works when the peak
RSS does not grow with the file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FEATURES = ("pt", "eta", "mass", "n_constituents", "width", "tau21", "c2")


def write_events(path: Path, n: int, seed: int = 0) -> int:
    """n random events (features float32, event int64) written row group by row group; the
    bytes they take as arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    block = 65_536
    schema = pa.schema(
        [*(pa.field(f, pa.float32()) for f in FEATURES), pa.field("event", pa.int64())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, block):
            k = min(block, n - start)
            columns = {f: rng.normal(size=k).astype(np.float32) for f in FEATURES}
            columns["event"] = np.arange(start, start + k, dtype=np.int64)
            writer.write_table(pa.table(columns, schema=schema))
    return n * (4 * len(FEATURES) + 8)


def train(folder: Path) -> Path:
    import yaml

    spec = folder / "tiny.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "bench-predict",
                "seed": 1,
                "data": {"source": "jets", "n_samples": 2000},
                "model": {"type": "mlp", "hidden": [32, 32]},
                "train": {"epochs": 1, "batch_size": 256},
                "tracking": {"tensorboard": False},
            }
        )
    )
    out = folder / "outputs"
    subprocess.run(
        [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (run,) = out.iterdir()
    return run


def predict(run: Path, data: Path, out: Path) -> tuple[int, float]:
    """Peak RSS (KiB) and wall time (s) of one `expctl predict` process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expctl",
            "predict",
            str(run),
            str(data),
            "--out",
            str(out),
            "--keep",
            "event",
            "--force",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"expctl predict failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return usage.ru_maxrss, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="500000,4000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.events.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = train(folder)
        print(f"{'events':>10} {'file MB':>8} {'arrays MB':>9} {'peak RSS MB':>11} {'time s':>7}")
        for n in sizes:
            data = folder / f"events{n}.parquet"
            in_memory = write_events(data, n)
            results = [predict(run, data, folder / "scores.parquet") for _ in range(args.repeat)]
            rss = statistics.median(r[0] for r in results) / 1024
            seconds = statistics.median(r[1] for r in results)
            print(
                f"{n:>10,} {data.stat().st_size / 1e6:>8.1f} {in_memory / 1e6:>9.1f} "
                f"{rss:>11.1f} {seconds:>7.1f}"
            )
            data.unlink()


if __name__ == "__main__":
    main()
