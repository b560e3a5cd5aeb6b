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

import numpy as np

Arrays = Sequence[np.ndarray]


def _concat(pool: list[Arrays]) -> list[np.ndarray]:
    return [np.concatenate([p[k] for p in pool]) for k in range(len(pool[0]))]


def shuffled_batches(
    chunks: Iterable[Arrays], batch_size: int, buffer: int, seed: int
) -> Iterator[list[np.ndarray]]:
    """Batches (one array per input array, same first dimension) of `batch_size` events."""
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
        for start in range(0, deliver, batch_size):
            yield [a[start : start + batch_size] for a in arrays]
        rest = [a[deliver:] for a in arrays]
        pool, size = ([rest], size - deliver) if size > deliver else ([], 0)
    if size:
        arrays = _concat(pool)
        if buffer:
            order = rng.permutation(size)
            arrays = [a[order] for a in arrays]
        for start in range(0, size, batch_size):
            yield [a[start : start + batch_size] for a in arrays]
