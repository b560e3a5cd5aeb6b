"""Batches from a stream of chunks, shuffled across chunks and files through a bounded buffer.

`shuffled_batches` keeps a pool of at most about `buffer` events (plus one chunk): each time the
pool is full it is permuted and every full batch that fits in its first half is delivered, the
rest waits to be mixed with the next chunks. At the end what is left is permuted and delivered,
the last batch partial. Every event comes exactly once; the order is a function of the `seed`
alone (the chunks arrive in a fixed order), so an epoch's batches are reproducible
(seed = f(run seed, epoch)) — what `resume` and `verify` need. With `buffer=0` the events come in
stream order: no shuffling.

Memory: about three times the pool (`buffer` events and a chunk) while it is permuted (the
pool, its concatenation and the permuted copy). Mixing: events that are up to `buffer` apart
in the stream can meet in one batch, so the buffer should span several chunks and, with
per-file sorting (signal files, then background), several files' worth of chunks: or the caller
interleaves the files' chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

Arrays = Sequence[np.ndarray]


def _concat(pool: list[Arrays]) -> list[np.ndarray]:
    return [np.concatenate([p[k] for p in pool]) for k in range(len(pool[0]))]


#: With `blocks`, at most this many batches are delivered as one block.
BLOCK_BATCHES = 64


def _cut(
    arrays: list[np.ndarray], stop: int, batch_size: int, blocks: bool
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


def shuffled_batches(
    chunks: Iterable[Arrays], batch_size: int, buffer: int, seed: Any, blocks: bool = False
) -> Iterator[list[np.ndarray]]:
    """Batches (one array per input array, same first dimension) of `batch_size` events; with
    `blocks`, groups of them (see `_cut`: far fewer Python objects per epoch for tf.data)."""
    if batch_size < 1 or buffer < 0:
        raise ValueError(f"batch_size {batch_size} must be >= 1 and buffer {buffer} >= 0")
    rng = np.random.default_rng(seed)
    pool: list[Arrays] = []
    size = 0
    for chunk in chunks:
        n = len(chunk[0])
        if n == 0:
            continue
        pool.append(chunk)
        size += n
        if size < max(buffer, batch_size):
            continue
        arrays = _concat(pool)
        if buffer:
            order = rng.permutation(size)
            arrays = [a[order] for a in arrays]
            deliver = (size // 2 // batch_size) * batch_size or batch_size
        else:
            deliver = (size // batch_size) * batch_size
        yield from _cut(arrays, deliver, batch_size, blocks)
        rest = [a[deliver:] for a in arrays]
        pool, size = ([rest], size - deliver) if size > deliver else ([], 0)
    if size:
        arrays = _concat(pool)
        if buffer:
            order = rng.permutation(size)
            arrays = [a[order] for a in arrays]
        yield from _cut(arrays, size, batch_size, blocks)
