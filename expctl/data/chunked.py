"""Building blocks for data read in chunks: exact running moments and a split by event identity.

Both give the same answer however the events are cut into chunks, in whatever order the chunks
come and however many readers there are, so a streamed run and an in-memory run of one file can
agree exactly:

- `RunningMoments`: per-column count, mean and sum of squared deviations, combined chunk by chunk
  with Chan, Golub & LeVeque's pairwise update (float64). Unlike accumulating Σx and Σx², it keeps
  its precision when the mean is large against the spread.
- `hash_split`: which of train (0), val (1) or test (2) an event belongs to, a pure function of
  (file key, entry number, seed): splitmix64 of the entry number salted with a hash of the file key
  and the seed, mapped to [0, 1) and cut at the split fractions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function of state `x + gamma` (uint64, elementwise, wrapping)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def salt(file_key: str, seed: int) -> np.uint64:
    """A 64-bit salt from the file's key (its path as the spec names it) and the data seed."""
    digest = hashlib.sha256(f"{seed}\0{file_key}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def uniform(file_key: str, entries: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per entry, fixed by (file key, entry, seed) alone (53-bit resolution)."""
    bits = splitmix64(np.asarray(entries, dtype=np.uint64) ^ salt(file_key, seed))
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def hash_split(
    file_key: str, entries: np.ndarray, seed: int, val: float, test: float
) -> np.ndarray:
    """TRAIN (0), VAL (1) or TEST (2) per entry: test below `test`, val below `test + val`."""
    if not (val >= 0 and test >= 0 and val + test < 1):
        raise ValueError(f"split fractions val={val}, test={test}: each >= 0, together < 1")
    u = uniform(file_key, entries, seed)
    out = np.full(u.shape, TRAIN, dtype=np.int8)
    out[u < test + val] = VAL
    out[u < test] = TEST
    return out


def identity_split(
    segments: Sequence[tuple[str, int]], seed: int, val: float, test: float
) -> np.ndarray:
    """`hash_split` of every event of files read whole, one after the other: `segments` are
    (file key, events) in row order (`expctl.data.table.Table.segments`)."""
    parts = [hash_split(key, np.arange(n, dtype=np.uint64), seed, val, test) for key, n in segments]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int8)


def label_flips(
    file_key: str, entries: np.ndarray, seed: int, fraction: float, n_classes: int
) -> np.ndarray:
    """data.label_noise by event identity: 0 for an event whose label stays, else the k in
    1..K-1 added to its class modulo K (another class, uniformly). An event is flipped when a
    number fixed by (file key, entry, seed) is below `fraction`, so about that fraction of the
    training events are, the same ones in memory and streamed."""
    u = uniform(file_key + "\0label-noise", entries, seed)
    shift = uniform(file_key + "\0label-class", entries, seed)
    k = 1 + np.minimum((shift * (n_classes - 1)).astype(np.int64), n_classes - 2)
    return np.where(u < fraction, k, 0)


@dataclass
class RunningMoments:
    """Per-column mean and (population) standard deviation of rows seen so far, in chunks.

    `axes` are the axes reduced in a chunk besides the first (images: height and width, so one
    mean per channel, as `expctl.data.dataset.standardization` does).
    """

    axes: tuple[int, ...] = ()
    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = field(default=None, repr=False)

    def update(self, chunk: np.ndarray) -> RunningMoments:
        """Add the rows of `chunk` (first axis: events)."""
        chunk = np.asarray(chunk)
        if chunk.shape[0] == 0:
            return self
        reduce = (0, *self.axes)
        n = int(np.prod([chunk.shape[a] for a in reduce]))
        mean = chunk.mean(axis=reduce, dtype=np.float64)
        shape = [1 if a in reduce else s for a, s in enumerate(chunk.shape)]
        dev = chunk.astype(np.float64, copy=False) - mean.reshape(shape)
        m2 = np.square(dev).sum(axis=reduce)
        return self.merge(RunningMoments(self.axes, n, mean, m2))

    def merge(self, other: RunningMoments) -> RunningMoments:
        """Combine with the moments of other rows (Chan et al.'s pairwise formula)."""
        if other.count == 0:
            return self
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            return self
        assert self.mean is not None and self.m2 is not None
        assert other.mean is not None and other.m2 is not None
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / n)
        self.m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / n)
        self.count = n
        return self

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (numpy's default, ddof=0)."""
        if self.count == 0 or self.m2 is None:
            raise ValueError("no rows seen")
        return np.sqrt(self.m2 / self.count)

    def standardization(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std with 0 -> 1), as `expctl.data.dataset.standardization` returns them."""
        std = self.std
        assert self.mean is not None
        return self.mean, np.where(std > 0, std, 1.0)
