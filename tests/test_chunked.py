"""Known answers for the chunk-wise building blocks (expctl.data.chunked)."""

from __future__ import annotations

import numpy as np
import pytest

from expctl.data.chunked import (
    TEST,
    TRAIN,
    VAL,
    RunningMoments,
    hash_split,
    splitmix64,
    uniform,
)
from expctl.data.dataset import standardization


def test_splitmix64_matches_the_reference_sequence() -> None:
    # Vigna's splitmix64 seeded with 0: its state after k steps is k * gamma, and the outputs are
    # 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f (reference C implementation)
    gamma = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        states = np.arange(3, dtype=np.uint64) * gamma
    assert [int(v) for v in splitmix64(states)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


def test_the_split_is_a_function_of_file_entry_and_seed_only() -> None:
    entries = np.arange(200_000)
    whole = hash_split("a.parquet", entries, 7, val=0.2, test=0.2)
    # in pieces of any size, in any order: the same assignment
    for size in (1, 999, 65_536):
        starts = list(range(0, len(entries), size))[::-1]
        parts = {s: hash_split("a.parquet", entries[s : s + size], 7, 0.2, 0.2) for s in starts}
        assert np.array_equal(np.concatenate([parts[s] for s in sorted(parts)]), whole)
    # the fractions hold to binomial precision (5 sigma)
    for code, p in ((TRAIN, 0.6), (VAL, 0.2), (TEST, 0.2)):
        share = np.mean(whole == code)
        assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / len(entries)), (code, share)
    # another seed or another file: another, independent assignment (agreement at chance level)
    for other in (
        hash_split("a.parquet", entries, 8, 0.2, 0.2),
        hash_split("b.parquet", entries, 7, 0.2, 0.2),
    ):
        agree = np.mean(other == whole)
        assert abs(agree - (0.36 + 0.04 + 0.04)) < 0.01, agree


def test_uniform_is_uniform_and_in_range() -> None:
    u = uniform("f", np.arange(100_000), 0)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    expected = len(u) / 10
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 30.0, chi2  # chi-square with 9 dof: p < 1e-3 above ~27.9


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="together < 1"):
        hash_split("f", np.arange(3), 0, val=0.5, test=0.5)


@pytest.mark.parametrize("chunk", [1, 7, 1000, 10_000])
def test_running_moments_equal_numpy_in_any_chunking(chunk: int) -> None:
    rng = np.random.default_rng(1)
    # a large mean against a small spread: summing x and x^2 would lose every digit here
    x = (rng.normal(size=(10_000, 5)) * [1, 1e-3, 10, 1, 0] + [0, 1e6, -3, 1e4, 2]).astype(
        np.float32
    )
    moments = RunningMoments()
    for start in range(0, len(x), chunk):
        moments.update(x[start : start + chunk])
    mean, std = moments.standardization()
    ref_mean, ref_std = standardization(x)
    assert moments.count == len(x)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6, atol=0)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6, atol=0)
    assert std[4] == 1.0  # a constant column: 0 -> 1, as in memory


def test_merging_readers_equals_one_pass() -> None:
    rng = np.random.default_rng(2)
    x = rng.exponential(size=(5_000, 3))
    readers = [RunningMoments().update(part) for part in np.array_split(x, 4)]
    total = RunningMoments()
    for r in readers[::-1]:
        total.merge(r)
    np.testing.assert_allclose(total.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(total.std, x.std(axis=0), rtol=1e-12)


def test_image_moments_are_per_channel_like_in_memory() -> None:
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(50, 6, 6, 2)).astype(np.float32)
    moments = RunningMoments(axes=(1, 2))
    for start in range(0, 50, 7):
        moments.update(images[start : start + 7])
    mean, std = moments.standardization()
    ref_mean, ref_std = standardization(images)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)
