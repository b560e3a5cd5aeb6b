"""What checkpoints and a run's figures cost: the quickstart under each `--checkpoint-every`.

    uv run python benchmarks/bench_checkpoint.py [--repeats 3] [--spec experiments/quickstart.yaml]

One process (TensorFlow started once, a warm-up run first), the settings interleaved within each
repeat so that load from other processes hits all alike: `--checkpoint-every 0` (never), the
default `10s`, `1` (every epoch), and `0` without figures (what a sweep trial skips). Each run is
`expctl.runner.run`, as `expctl run` calls it; the time spent inside
`expctl.runs.checkpoint.write_checkpoint` and `write_best` (model.save, fsyncs, the sha256, the
state file) is measured by wrapping them, and so is the drawing of the figures (the runner's
`_draw`: learning curves, ROC, rejection, overtraining, confusion). Prints medians as a markdown
table: the run's wall time and its ratio to `0`, the checkpoints written, their total time and
share of the run, the time of one checkpoint, and the figures' time and share of the run. The
shares are measured inside each run, so they hold better than the wall-time ratios on a busy
machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]

#: (label, --checkpoint-every, plots)
SETTINGS = [
    ("0 (never)", "0", True),
    ("10s (default)", "10s", True),
    ("1 (every epoch)", "1", True),
    ("0, no figures", "0", False),
]


class Timer:
    """Wraps the checkpoint writers and the runner's figure drawing, recording their wall times.

    Both are looked up as module attributes when called, so replacing them here takes effect.
    """

    def __init__(self) -> None:
        import expctl.runner.pipeline as pipeline
        import expctl.runs.checkpoint as checkpoint

        self.calls: list[float] = []
        self.figures: list[float] = []
        for name in ("write_checkpoint", "write_best"):
            setattr(checkpoint, name, self._timed(getattr(checkpoint, name), self.calls))
        pipeline._draw = self._timed(pipeline._draw, self.figures)

    @staticmethod
    def _timed(function: Any, into: list[float]) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - start)

        return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spec", type=Path, default=ROOT / "experiments/quickstart.yaml")
    args = parser.parse_args()

    from expctl.runner import RunHooks, run
    from expctl.runs.checkpoint import CheckpointPolicy
    from expctl.spec import load_spec

    timer = Timer()
    loaded = load_spec(args.spec)
    results: dict[str, list[tuple[float, list[float], int, float]]] = {s[0]: [] for s in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run(load_spec(args.spec, ["train.epochs=2"]), out)  # warm-up: imports, first graphs
        for _ in range(args.repeats):
            for label, every, plots in SETTINGS:
                timer.calls.clear()
                timer.figures.clear()
                hooks = RunHooks(checkpoint=CheckpointPolicy.parse(every), plots=plots)
                start = time.perf_counter()
                outcome = run(loaded, out, hooks=hooks)
                wall = time.perf_counter() - start
                epochs = int(outcome.metrics.get("epochs_trained", 0))
                results[label].append((wall, list(timer.calls), epochs, sum(timer.figures)))

    load = os.getloadavg()
    print(
        f"{args.spec.relative_to(ROOT) if args.spec.is_relative_to(ROOT) else args.spec}, "
        f"median of {args.repeats} interleaved repeats in one process (after a warm-up); "
        f"{os.cpu_count()} core(s); load average at the end {load[0]:.1f}; Python "
        f"{sys.version.split()[0]}\n"
    )
    print(
        "| --checkpoint-every | epochs | run wall s | ÷ never | checkpoints written "
        "| checkpoint s (share of run) | one checkpoint ms (min–max) | figures s (share of run) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = statistics.median(w for w, _, _, _ in results[SETTINGS[0][0]])
    for label, _, _ in SETTINGS:
        rows = results[label]
        wall = statistics.median(w for w, _, _, _ in rows)
        total = statistics.median(sum(c) for _, c, _, _ in rows)
        count = statistics.median(len(c) for _, c, _, _ in rows)
        figures = statistics.median(f for _, _, _, f in rows)
        each = [c for _, calls, _, _ in rows for c in calls]
        one = (
            f"{1000 * statistics.median(each):.0f} ({1000 * min(each):.0f}–{1000 * max(each):.0f})"
            if each
            else "–"
        )
        epochs = statistics.median(e for _, _, e, _ in rows)
        print(
            f"| {label} | {epochs:.0f} | {wall:.2f} | {wall / base:.3f} | {count:.0f} "
            f"| {total:.2f} ({100 * total / wall:.1f}%) | {one} "
            f"| {figures:.2f} ({100 * figures / wall:.0f}%) |"
        )


if __name__ == "__main__":
    main()
