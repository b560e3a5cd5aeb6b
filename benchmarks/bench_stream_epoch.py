"""CPU cost of one streamed training epoch without a model (issue 15: streamed vs in memory).

    taskset -c 1 uv run python benchmarks/bench_stream_epoch.py [--events 4M] [--repeats 3]
        [--stages read,generator,tfdata,memory] [--profile generator]

On the bench_scale.py file of N events (28 float32 features, Parquet, 60/20/20 split), with the
streamed run's settings (chunks of 65,536 events, a shuffle buffer of 1,000,000, batch 1024),
it measures the CPU seconds (user + sys of this process, every thread: getrusage), the system
part, the wall time and the page faults of:
- read: the training split's chunks alone (`StreamedDataset.parts`: reading, decoding, split
  selection, feature assembly);
- generator: `StreamedDataset.batches("train", ..., blocks)` consumed in Python (the above, the
  shuffle buffer, the cutting into blocks of batches);
- tfdata: the same epoch through `StreamedBatches.dataset()`, its `steps` batches taken as
  Keras takes them (what fit iterates, without the model);
- memory: the in-memory `EpochBatches.dataset()` epoch over the same training events.
A training epoch takes this CPU time away from training, so tfdata's CPU seconds over memory's
are what streaming costs an epoch. Epochs after the first are timed (the first traces and
warms up). The file comes from bench_scale.py's cache (written there first if missing). Pin it
to a core (taskset) so another process's timings are not disturbed; CPU seconds hold on one
core.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import BATCH, SEED, dataset, default_cache, parse_count


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], int]) -> tuple[float, float, float, int, int]:
    """(CPU seconds, of which system, wall seconds, page faults, events) of `work()`."""
    before, w = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    n = work()
    after = resource.getrusage(resource.RUSAGE_SELF)
    system = after.ru_stime - before.ru_stime
    user = after.ru_utime - before.ru_utime
    faults = after.ru_minflt - before.ru_minflt
    return user + system, system, time.perf_counter() - w, faults, n


def _epoch(data: Any, steps: int) -> int:
    """Events in the first `steps` batches of `data`, as Keras takes them: `steps` batches from
    one iterator, which is not run to its end (ending it waits for tf.data's autotuning thread
    to wake, up to a second, which Keras does not time as part of the epoch)."""
    iterator = iter(data)
    HELD.append(iterator)  # ended after the timing
    return sum(int(next(iterator)[0].shape[0]) for _ in range(steps))


HELD: list[Any] = []


def streamed_dataset(path: Path) -> Any:
    from expctl.data import prepare
    from expctl.spec import spec_from_dict

    section = {
        "source": "parquet",
        "path": str(path),
        "target": "label",
        "stream": True,
        "memory_budget": "2GB",
    }
    return prepare(spec_from_dict({"data": section}).data, path.parent, seed=SEED)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="4M")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", default="generator,tfdata,memory")
    parser.add_argument("--profile", default=None, help="cProfile one stage, print the top 30")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    path = dataset(args.cache or default_cache(), parse_count(args.events))

    c0, w0 = cpu(), time.perf_counter()
    data = streamed_dataset(path)
    print(f"scan: {cpu() - c0:.2f} s CPU, {time.perf_counter() - w0:.2f} s wall", file=sys.stderr)
    n_train = len(data.train)

    from expctl.training.pipeline import EpochBatches, StreamedBatches

    try:
        from expctl.data.batches import block_batches
    except ImportError:  # an older expctl (--compare-tree): blocks of 64 batches

        def block_batches(batch_size: int, event_bytes: int) -> Any:
            return True

    streamed = StreamedBatches(data, BATCH, SEED, True, None)
    epoch = [0]

    def generator() -> int:
        epoch[0] += 1
        n = 0
        blocks = block_batches(BATCH, 4 * data.n_features + 8)
        for block in data.batches("train", BATCH, (SEED, epoch[0]), streamed.weight, blocks):
            n += block[0].shape[0] * block[0].shape[1]
        return n

    def read() -> int:
        return sum(len(b.y) for _, b in data.parts("train", "mixed"))

    def tfdata() -> int:
        epoch[0] += 1
        streamed.set_epoch(epoch[0])
        return _epoch(streamed.dataset(), streamed.steps)

    memory: dict[str, Any] = {}

    def in_memory() -> int:
        if not memory:
            train = data.sample("train", n_train)
            memory["batches"] = EpochBatches(train.x, train.y, None, BATCH, seed=SEED)
        batches = memory["batches"]
        epoch[0] += 1
        batches.set_epoch(epoch[0])
        return _epoch(batches.dataset(), batches.steps)

    stages = {"read": read, "generator": generator, "tfdata": tfdata, "memory": in_memory}
    chosen = [s.strip() for s in args.stages.split(",") if s.strip()]
    if "memory" in chosen:
        in_memory()  # the arrays read once (not timed) and the pipeline traced once
    if "tfdata" in chosen:
        tfdata()  # tracing once
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        stages[args.profile]()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return
    results: dict[str, list[tuple[float, float, float, int]]] = {s: [] for s in chosen}
    for _ in range(args.repeats):
        for stage in chosen:
            c, s, w, faults, n = timed(stages[stage])
            HELD.clear()
            assert n == n_train, (stage, n, n_train)
            results[stage].append((c, s, w, faults))
            print(
                f"{stage}: {c:.2f} s CPU ({s:.2f} system), {w:.2f} s wall, {faults} page faults",
                file=sys.stderr,
            )
    print(f"{path.name}: {n_train:,} training events, batch {BATCH}; medians of {args.repeats}")
    print("| stage | CPU s / epoch | of which system | wall s / epoch | page faults |")
    print("|---|---:|---:|---:|---:|")
    for stage, runs in results.items():
        c, s, w, f = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"| {stage} | {c:.2f} | {s:.2f} | {w:.2f} | {f:,.0f} |")


if __name__ == "__main__":
    main()
