"""Shuffled batches from a stream of chunks (expctl.data.batches)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from expctl.data.batches import block_batches, block_count, shuffled_batches


def _chunks(n: int, size: int, seen: list[int] | None = None) -> Iterator[list[np.ndarray]]:
    """Events 0..n-1 (id and id*2 as a second array) in chunks of `size`; `seen` counts them."""
    for start in range(0, n, size):
        ids = np.arange(start, min(start + size, n))
        if seen is not None:
            seen.append(len(ids))
        yield [ids, ids * 2.0]


@pytest.mark.parametrize("buffer", [0, 64, 1_000, 50_000])
@pytest.mark.parametrize(("chunk", "batch"), [(100, 32), (7, 64), (1_000, 1)])
def test_every_event_comes_once_in_full_batches(buffer: int, chunk: int, batch: int) -> None:
    batches = list(shuffled_batches(_chunks(3_001, chunk), batch, buffer, seed=1))
    ids = np.concatenate([b[0] for b in batches])
    assert sorted(ids.tolist()) == list(range(3_001))
    assert all(np.array_equal(b[1], b[0] * 2.0) for b in batches)  # rows stay together
    sizes = [len(b[0]) for b in batches]
    assert all(s == batch for s in sizes[:-1]) and 0 < sizes[-1] <= batch
    if buffer == 0:
        assert np.array_equal(ids, np.arange(3_001))  # no buffer: stream order


def test_the_order_is_a_function_of_the_seed() -> None:
    def order(seed: int) -> np.ndarray:
        return np.concatenate([b[0] for b in shuffled_batches(_chunks(2_000, 100), 50, 500, seed)])

    assert np.array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


def test_events_from_different_files_meet_in_batches() -> None:
    """File a (ids < 1000) then file b: with a buffer of 1,000 events, batches mix them."""
    batches = list(shuffled_batches(_chunks(2_000, 100), 50, 1_000, seed=0))
    mixed = [b for b in batches if (b[0] < 1_000).any() and (b[0] >= 1_000).any()]
    assert len(mixed) >= 5, len(mixed)
    ids = np.concatenate([b[0] for b in batches])
    # far from stream order; no event is delivered before it could have been read (at most the
    # buffer and a chunk ahead; events may wait longer, as in any shuffle buffer)
    assert np.corrcoef(ids, np.arange(len(ids)))[0, 1] < 0.95
    assert np.max(ids - np.arange(len(ids))) <= 1_000 + 100


def test_the_lookahead_is_bounded_by_the_buffer_and_a_chunk() -> None:
    seen: list[int] = []
    first = next(shuffled_batches(_chunks(100_000, 100, seen), 32, 1_000, seed=0))
    assert len(first[0]) == 32
    assert sum(seen) <= 1_000 + 100


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size 0"):
        next(shuffled_batches(_chunks(10, 5), 0, 10, seed=0))


@pytest.mark.parametrize("buffer", [0, 700])
def test_blocks_are_the_batches_grouped(buffer: int) -> None:
    """blocks=3: the same batches, full ones as (k <= 3, batch) blocks, the last partial as (1, r),
    as many blocks as block_count says."""
    plain = list(shuffled_batches(_chunks(2_017, 100), 50, buffer, seed=5))
    blocks = list(shuffled_batches(_chunks(2_017, 100), 50, buffer, seed=5, blocks=3))
    assert all(b[0].ndim == 2 and b[0].shape[0] <= 3 for b in blocks)
    # 2,017 = 40 x 50 + 17: 13 blocks of 3 batches, one of 1, then the partial batch
    assert [b[0].shape[0] for b in blocks] == [3] * 13 + [1, 1]
    assert blocks[-1][0].shape == (1, 17)
    assert len(blocks) == block_count(2_017, 50, 3) == 15
    unrolled = [row for b in blocks for row in b[0]]
    assert len(unrolled) == len(plain) == 41
    for got, want in zip(unrolled, plain, strict=True):
        np.testing.assert_array_equal(got, want[0])


@pytest.mark.parametrize(("n", "batch", "blocks"), [(0, 8, 2), (7, 8, 2), (16, 8, 2), (17, 8, 2)])
def test_block_count_is_what_is_delivered(n: int, batch: int, blocks: int) -> None:
    delivered = list(shuffled_batches(_chunks(n, 5), batch, 4, seed=0, blocks=blocks))
    assert len(delivered) == block_count(n, batch, blocks)
    assert sum(b[0].size for b in delivered) == n


def test_the_order_does_not_depend_on_how_the_stream_is_cut() -> None:
    """The same events in chunks of 7 or of 1,000 and in batches of 32 or 50: one order."""

    def order(chunk: int, batch: int) -> np.ndarray:
        return np.concatenate(
            [b[0] for b in shuffled_batches(_chunks(20_000, chunk), batch, 3_000, seed=9)]
        )

    reference = order(1_000, 50)
    assert np.array_equal(order(7, 32), reference)
    assert not np.array_equal(reference, np.arange(20_000))


def test_each_event_takes_the_place_of_one_drawn_at_random() -> None:
    """A pool of 100 events (pieces of 2 places), events 0..299 in stream order: 0-99 fill it;
    each later pair takes the places of two drawn without replacement (delivering their events);
    the pool comes out last in a random order. Computed by hand with the same generator."""
    rng = np.random.default_rng(2)
    pool = np.arange(100)
    want: list[int] = []
    for start in range(100, 300, 2):
        places = rng.choice(100, size=2, replace=False)
        want.extend(pool[places])
        pool[places] = [start, start + 1]
    want.extend(pool[rng.permutation(100)])
    got = np.concatenate([b[0] for b in shuffled_batches(_chunks(300, 7), 16, 100, seed=2)])
    np.testing.assert_array_equal(got, want)


def test_block_sizes_stay_within_the_byte_budget() -> None:
    assert block_batches(1024, 28 * 4 + 8) == 17  # 2 MiB / (1024 x 120 bytes)
    assert block_batches(32, 4) == 64  # small batches: BLOCK_BATCHES at most
    assert block_batches(1 << 20, 1024) == 1  # one batch over the budget: still one
