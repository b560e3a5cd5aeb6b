"""The raw table of events every data source returns (before splitting and standardisation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Table:
    """Events as arrays: features (n, d), target (n,), and any auxiliary columns.

    Features are float32 when the file's columns fit float32 exactly (float32, small integers:
    `expctl.data.sources.feature_dtype`), else float64; `prepare` makes every split float32.
    """

    features: np.ndarray
    target: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    description: str
    weight: np.ndarray | None = None
    #: other named columns (not features, target or weight) that model.heads may predict
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    #: the file the events come from (named in data errors); "" for generated data
    origin: str = ""
    #: file sources: (file key, events) per file in row order, the key being the file's path as
    #: the spec names it; an event's identity (key, entry) fixes its split
    #: (`expctl.data.chunked.hash_split`), in memory as when streamed. () for generated data.
    segments: tuple[tuple[str, int], ...] = ()
