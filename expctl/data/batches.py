"""Batches from a stream of chunks, shuffled across chunks and files through a bounded buffer.

`shuffled_batches` keeps a pool of `buffer` events. The first events fill it; from then on each
incoming event takes the place of a pool event chosen at random, which is delivered: the places
are drawn without replacement 1/PIECE of the pool at a time (a piece), the events of the stream
taking them in the order drawn; at the end the pool is delivered in a random order. Every event
comes exactly once; the order is a function of the `seed` and the stream of events alone (not
of how they are cut into chunks, nor of the batch or block size), so an epoch's batches are
reproducible (seed = f(run seed, epoch)) — what `resume` and `verify` need. With `buffer=0` the
events come in stream order: no shuffling. Batches are cut from the delivered events in order,
full ones first, the last of the stream partial.

Memory: the pool (`buffer` events), a chunk and the block being filled. Mixing: an event waits
in the pool a random time (on average about `buffer` events), so events up to about `buffer`
apart in the stream meet in batches; with per-file sorting (signal files, then background) the
buffer should span several files' worth of chunks, or the caller interleaves the files' chunks.
Cost: each event is copied twice, into the pool and out of it straight into the block that is
delivered (no other copy, no per-event Python); one O(piece) draw per piece.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

Arrays = Sequence[np.ndarray]

#: Pool places are drawn (without replacement) 1/PIECE of the pool at a time: small enough that
#: an event's wait hardly depends on the piece it came in, large enough for few numpy calls.
PIECE = 50
#: With `blocks`, at most this many batches are delivered as one block, and at most about
#: BLOCK_BYTES: a block is made per call and freed once TensorFlow has cut it; a few MB are
#: reused from the heap (mapped fresh and page-faulted each time when larger) and stay in cache.
BLOCK_BATCHES = 64
BLOCK_BYTES = 2 << 20


def block_batches(batch_size: int, event_bytes: int) -> int:
    """Batches per block for events of `event_bytes` bytes (all arrays of one event together):
    BLOCK_BATCHES, fewer when a block would exceed BLOCK_BYTES; at least one."""
    return max(1, min(BLOCK_BATCHES, BLOCK_BYTES // max(1, batch_size * event_bytes)))


def block_count(n: int, batch_size: int, blocks: int) -> int:
    """How many blocks `shuffled_batches(..., blocks=blocks)` delivers for `n` events."""
    full, rest = divmod(n, batch_size)
    return math.ceil(full / blocks) + (1 if rest else 0)


class _Blocks:
    """The delivered events, copied into blocks of `blocks` batches (or single batches with
    `blocks=0`) as they come: each block is a fresh set of arrays, handed to the consumer."""

    def __init__(self, batch_size: int, blocks: int) -> None:
        self.batch_size, self.blocks = batch_size, blocks
        self.rows = batch_size * max(1, blocks)
        self.arrays: list[np.ndarray] | None = None
        self.filled = 0

    def space(self, like: Arrays) -> int:
        """Rows left in the current block (a new one started if needed)."""
        if self.arrays is None:
            self.arrays = [np.empty((self.rows, *a.shape[1:]), dtype=a.dtype) for a in like]
            self.filled = 0
        return self.rows - self.filled

    def take(self, pool: Arrays, slots: np.ndarray) -> Iterator[list[np.ndarray]]:
        """Copy the pool's rows at `slots` (at most `space()` of them) into the block."""
        assert self.arrays is not None
        end = self.filled + len(slots)
        for b, p in zip(self.arrays, pool, strict=True):
            # mode="clip" (the slots are valid): numpy writes into `out` directly, unbuffered
            np.take(p, slots, axis=0, out=b[self.filled : end], mode="clip")
        self.filled = end
        return self._full()

    def copy(self, arrays: Arrays, start: int, k: int) -> Iterator[list[np.ndarray]]:
        """Copy rows `start` to `start + k` of `arrays` (at most `space()`) into the block."""
        assert self.arrays is not None
        for b, a in zip(self.arrays, arrays, strict=True):
            b[self.filled : self.filled + k] = a[start : start + k]
        self.filled += k
        return self._full()

    def _full(self) -> Iterator[list[np.ndarray]]:
        if self.filled == self.rows:
            yield from self._cut()

    def _cut(self) -> Iterator[list[np.ndarray]]:
        """The block's rows as batches: full ones as one (k, batch_size, ...) block (or one by
        one with blocks=0), then a last partial one as (1, rest, ...) (or (rest, ...))."""
        arrays, n, bs = self.arrays, self.filled, self.batch_size
        self.arrays, self.filled = None, 0
        if arrays is None or not n:
            return
        full = n // bs * bs
        if not self.blocks:
            for start in range(0, n, bs):
                yield [a[start : min(start + bs, n)] for a in arrays]
            return
        if full:
            yield [a[:full].reshape(full // bs, bs, *a.shape[1:]) for a in arrays]
        if n > full:
            yield [a[full:n][None] for a in arrays]

    def finish(self) -> Iterator[list[np.ndarray]]:
        yield from self._cut()


def _generator(seed: Any) -> np.random.Generator:
    """The shuffle's generator: `seed`, or what `seed()` gives when it is a function."""
    return np.random.default_rng(seed() if callable(seed) else seed)


def shuffled_batches(
    chunks: Iterable[Arrays], batch_size: int, buffer: int, seed: Any, blocks: int = 0
) -> Iterator[list[np.ndarray]]:
    """Batches (one array per input array, same first dimension) of `batch_size` events,
    shuffled with `seed` (anything `numpy.random.default_rng` takes, or a function returning it,
    called once the pool is full: the pool can be filled before the seed is known); with
    `blocks` > 0, groups of that many batches as arrays of shape (k, batch_size, ...), the last
    full ones possibly fewer and a last partial batch as (1, rest, ...) (`block_count` blocks:
    far fewer Python objects per epoch for tf.data). The events and their order do not depend
    on `blocks`."""
    if batch_size < 1 or buffer < 0 or blocks < 0:
        raise ValueError(
            f"batch_size {batch_size} must be >= 1, buffer {buffer} >= 0 and blocks {blocks} >= 0"
        )
    out = _Blocks(batch_size, blocks)
    if buffer == 0:
        for chunk in chunks:
            m, start = len(chunk[0]), 0
            while start < m:
                k = min(m - start, out.space(chunk))
                yield from out.copy(chunk, start, k)
                start += k
        yield from out.finish()
        return
    rng: np.random.Generator | None = None  # made when first needed: `seed` may be a function
    pool: list[np.ndarray] | None = None
    filled = 0
    piece = max(1, buffer // PIECE)
    places = np.empty(0, dtype=np.int64)  # this piece's places of the pool, distinct
    used = 0  # places of it taken
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
        while start < m:  # each later event takes the place of one delivered
            if used == len(places):
                rng = rng or _generator(seed)
                # numpy samples k of n places without replacement in O(k) when k <= n/50
                # (Floyd's algorithm), rather than permuting the whole pool
                places, used = rng.choice(buffer, size=piece, replace=False), 0
            k = min(m - start, len(places) - used, out.space(pool))
            slots = places[used : used + k]  # distinct places: deliver, then overwrite
            used += k
            yield from out.take(pool, slots)
            for p, a in zip(pool, chunk, strict=True):
                p[slots] = a[start : start + k]
            start += k
    if pool is not None:
        rest = (rng or _generator(seed)).permutation(filled)
        done = 0
        while done < filled:
            k = min(filled - done, out.space(pool))
            yield from out.take(pool, rest[done : done + k])
            done += k
    yield from out.finish()
