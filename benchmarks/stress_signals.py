"""Signal stress: SIGINT/SIGTERM an `expctl run` at a random moment, then resume it.

Each round starts a small run (jets, 6 epochs) in a fresh process, waits for its first epoch,
sleeps a random 0..--window seconds (so the signal lands in training, evaluation, saving or
drawing), sends SIGINT or SIGTERM, and checks how the run ended: `interrupted` with exit 130/143
(then `expctl resume` must end it `completed`, exit 0), or already `completed` when the signal
came. Any other end (`failed`, `running`, a failed resume) is a bug; the exit code is then 1.

    uv run python benchmarks/stress_signals.py [--rounds 24] [--window 4] [--seed 0]

Prints one line per round and a summary table.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

SPEC = {
    "name": "stress",
    "seed": 5,
    "data": {"source": "jets", "n_samples": 2000},
    "model": {"hidden": [16], "dropout": 0.2, "input_noise": 0.1},
    "train": {
        "optimizer": {"name": "adam", "learning_rate": 0.003},
        "batch_size": 16,
        "epochs": 6,
        "early_stopping": {"patience": 4, "restore_best": True},
    },
}


def _status(run: Path) -> str | None:
    try:
        return json.loads((run / "status.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def _first_epoch(proc: subprocess.Popen, out: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for history in out.glob("*/history.csv"):
            if len(history.read_text().splitlines()) >= 2:
                return
        time.sleep(0.01)


def one_round(folder: Path, spec: Path, rng: random.Random, window: float) -> tuple[str, str]:
    """(outcome, detail): outcome is interrupted+resumed, completed-before-signal or BAD."""
    out = folder / "out"
    expctl = [sys.executable, "-m", "expctl"]
    proc = subprocess.Popen(
        [*expctl, "run", str(spec), "--output-dir", str(out), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _first_epoch(proc, out)
    time.sleep(rng.uniform(0, window))
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    runs = sorted(out.iterdir()) if out.exists() else []
    status = _status(runs[0]) if runs else None
    detail = f"{sig.name}: exit {proc.returncode}, status {status}"
    if status == "completed":
        return "completed before the signal", detail
    if status != "interrupted" or proc.returncode != 128 + sig:
        return "BAD", f"{detail}: {err.strip()[-300:]}"
    resumed = subprocess.run(
        [*expctl, "resume", str(runs[0]), "-q"], capture_output=True, text=True, timeout=300
    )
    after = _status(runs[0])
    detail += f"; resume: exit {resumed.returncode}, status {after}"
    if resumed.returncode != 0 or after != "completed":
        return "BAD", f"{detail}: {resumed.stderr.strip()[-300:]}"
    return "interrupted, resumed to completed", detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--window", type=float, default=4.0, help="seconds after epoch 1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "stress.yaml"
        spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
        for i in range(args.rounds):
            folder = Path(tmp) / f"round{i}"
            folder.mkdir()
            outcome, detail = one_round(folder, spec, rng, args.window)
            outcomes[outcome] += 1
            print(f"{i:3d}  {outcome:34s}  {detail}", flush=True)
    print("\n| outcome | rounds |\n|---|---|")
    for outcome, count in outcomes.most_common():
        print(f"| {outcome} | {count} |")
    sys.exit(1 if outcomes["BAD"] else 0)


if __name__ == "__main__":
    main()
