"""Peak memory (RSS) of `expctl run` on the large MLP, against the number of epochs.

    uv run python benchmarks/bench_memory.py [--events 200000] [--epochs 2,8,24]

Each run is a fresh process (`python -m expctl run`); its peak resident set size is read from the
kernel (getrusage of the waited-for child, ru_maxrss), and its RSS after
each epoch is sampled from /proc/PID/status (VmRSS) when its row appears in history.csv. Peak RSS
must not grow with the epochs: the table shows it for each epoch count, and the growth from the
shortest to the longest run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_training import make_data  # this folder is on sys.path when run as a script


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(spec: Path, out: Path) -> tuple[int, list[int]]:
    """Peak RSS (KiB) of one `expctl run` process and its RSS sampled after each epoch."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    per_epoch: list[int] = []
    seen = 0
    while True:
        # wait4 (not poll) so that the child's own peak RSS comes back with its exit status
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        histories = list(out.glob("*/history.csv"))
        if histories:
            epochs = max(0, len(histories[0].read_text().splitlines()) - 1)
            if epochs > seen:
                seen = epochs
                per_epoch.append(rss_kb(proc.pid))
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"expctl run failed with exit code {proc.returncode}")
    return usage.ru_maxrss, per_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", default="2,8,24")
    args = parser.parse_args()
    counts = [int(e) for e in args.epochs.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = make_data(folder, args.events, 16)
        for epochs in counts:
            spec = folder / f"spec{epochs}.yaml"
            spec.write_text(
                yaml.safe_dump(
                    {
                        "name": f"memory-{epochs}",
                        "seed": 1,
                        "data": {"source": "npz", "path": str(data)},
                        "model": {"type": "mlp", "hidden": [512, 512, 512]},
                        "train": {"batch_size": 1024, "epochs": epochs},
                    }
                )
            )
            peak, per_epoch = run(spec, folder / f"out{epochs}")
            rows.append((epochs, peak, per_epoch))
    print(f"large MLP 16→512×3→1, batch 1024, {int(0.6 * args.events):,} training events\n")
    print("| epochs | peak RSS (MiB) | RSS after epoch 1 … last (MiB) |")
    print("|---|---|---|")
    for epochs, peak, per_epoch in rows:
        trace = ", ".join(f"{kb / 1024:.0f}" for kb in per_epoch)
        print(f"| {epochs} | {peak / 1024:.0f} | {trace} |")
    first, last = rows[0][1], rows[-1][1]
    print(
        f"\npeak RSS growth from {rows[0][0]} to {rows[-1][0]} epochs: "
        f"{(last - first) / 1024:+.0f} MiB ({last / first - 1:+.1%})"
    )


if __name__ == "__main__":
    main()
