"""Batches from a stream of chunks, shuffled across chunks and files through a bounded buffer.

`shuffled_batches` keeps a pool of `buffer` events. The first events fill it; from then on each
incoming chunk's events take the places of pool events chosen at random (without replacement,
up to 1/50 of the pool at a time), which are delivered in the random order they were chosen; at
the end the pool is delivered in a random order. Every event comes exactly once, copied twice (into the pool and
out of it); the order is a function of the `seed` alone (the chunks arrive in a fixed order), so
an epoch's batches are reproducible (seed = f(run seed, epoch)) — what `resume` and `verify`
need. With `buffer=0` the events come in stream order: no shuffling. Batches are cut from the
delivered events in order, full ones first, the last of the stream partial.

Memory: the pool (`buffer` events) and about two chunks. Mixing: an event waits in the pool a
random time (on average `buffer` events), so events up to about `buffer` apart in the stream meet
in batches; with per-file sorting (signal files, then background) the buffer should span several
files' worth of chunks, or the caller interleaves the files' chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

Arrays = Sequence[np.ndarray]

#: With `blocks`, at most this many batches are delivered as one block.
BLOCK_BATCHES = 64


def _cut(
    arrays: Sequence[np.ndarray], stop: int, batch_size: int, blocks: bool
) -> Iterator[list[np.ndarray]]:
    """The first `stop` rows of `arrays` as batches; with `blocks`, full batches as views of
    shape (k, batch_size, ...) (k <= BLOCK_BATCHES) and a last partial one as (1, rest, ...)."""
    if not blocks:
        for start in range(0, stop, batch_size):
            yield [a[start : start + batch_size] for a in arrays]
        return
    full = stop // batch_size * batch_size
    step = BLOCK_BATCHES * batch_size
    for start in range(0, full, step):
        end = min(start + step, full)
        k = (end - start) // batch_size
        yield [a[start:end].reshape(k, batch_size, *a.shape[1:]) for a in arrays]
    if stop > full:
        yield [a[full:stop][None] for a in arrays]


class _Batcher:
    """Cuts delivered events into batches, keeping the rest of a delivery for the next one."""

    def __init__(self, batch_size: int, blocks: bool) -> None:
        self.batch_size, self.blocks = batch_size, blocks
        self.rest: list[np.ndarray] | None = None

    def add(self, arrays: Sequence[np.ndarray]) -> Iterator[list[np.ndarray]]:
        if self.rest is not None and len(self.rest[0]):
            arrays = [np.concatenate([r, a]) for r, a in zip(self.rest, arrays, strict=True)]
        else:
            arrays = [np.ascontiguousarray(a) for a in arrays]
        n = len(arrays[0])
        full = n // self.batch_size * self.batch_size
        yield from _cut(arrays, full, self.batch_size, self.blocks)
        self.rest = [a[full:] for a in arrays]

    def finish(self) -> Iterator[list[np.ndarray]]:
        if self.rest is not None and len(self.rest[0]):
            yield from _cut(self.rest, len(self.rest[0]), self.batch_size, self.blocks)
        self.rest = None


def shuffled_batches(
    chunks: Iterable[Arrays], batch_size: int, buffer: int, seed: Any, blocks: bool = False
) -> Iterator[list[np.ndarray]]:
    """Batches (one array per input array, same first dimension) of `batch_size` events; with
    `blocks`, groups of them (see `_cut`: far fewer Python objects per epoch for tf.data)."""
    if batch_size < 1 or buffer < 0:
        raise ValueError(f"batch_size {batch_size} must be >= 1 and buffer {buffer} >= 0")
    out = _Batcher(batch_size, blocks)
    if buffer == 0:
        for chunk in chunks:
            if len(chunk[0]):
                yield from out.add(chunk)
        yield from out.finish()
        return
    rng = np.random.default_rng(seed)
    pool: list[np.ndarray] | None = None
    filled = 0
    # at most 1/50 of the pool's places drawn at a time: numpy then samples them in O(k)
    # (Floyd's algorithm) rather than permuting the whole pool for each draw
    piece = max(1, buffer // 51) if buffer > 10_000 else buffer
    for chunk in chunks:
        m = len(chunk[0])
        if m == 0:
            continue
        if pool is None:
            pool = [np.empty((buffer, *a.shape[1:]), dtype=a.dtype) for a in chunk]
        start = 0
        if filled < buffer:  # the first events fill the pool
            k = min(m, buffer - filled)
            for p, a in zip(pool, chunk, strict=True):
                p[filled : filled + k] = a[:k]
            filled, start = filled + k, k
        while start < m:  # each later event takes the place of one delivered at random
            k = min(m - start, piece)
            slots = rng.choice(buffer, size=k, replace=False)
            delivered = [p[slots] for p in pool]
            for p, a in zip(pool, chunk, strict=True):
                p[slots] = a[start : start + k]
            yield from out.add(delivered)
            start += k
    if pool is not None:
        order = rng.permutation(filled)
        yield from out.add([p[:filled][order] for p in pool])
    yield from out.finish()
