"""The dataset's fingerprint and record (a run's data record): what `resume` and `verify` check
the data by."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.dataset import Dataset


def data_fingerprint(dataset: Dataset) -> str:
    """sha256 over every array trained, validated and tested on (dtype, shape and bytes).

    Recorded in the run's data record; `expctl resume` and `expctl verify` refuse a run whose data, prepared
    again from its spec, no longer give the same arrays.
    """
    if getattr(dataset, "streamed", False):  # computed while scanning the files
        return str(dataset.fingerprint)  # type: ignore[attr-defined]
    digest = hashlib.sha256()
    for name in ("train", "val", "test"):
        split = getattr(dataset, name)
        arrays = {"x": split.x, "y": split.y, "w": split.w}
        for head, values in sorted((split.targets or {}).items()):
            arrays[f"target:{head}"] = values
        for key, array in arrays.items():
            if array is None:
                continue
            array = np.ascontiguousarray(array)
            digest.update(f"{name}.{key}:{array.dtype.str}:{array.shape};".encode())
            # the array's own bytes (tobytes would copy the training set once more)
            digest.update(array.reshape(-1).view(np.uint8))
    return "sha256:" + digest.hexdigest()


def data_record(dataset: Dataset, spec_dir: Path) -> dict[str, Any]:
    """The run's data record: the dataset's summary, its fingerprint and the folder relative paths start in."""
    return {
        **dataset.summary(),
        "fingerprint": data_fingerprint(dataset),
        "spec_dir": str(spec_dir),
    }


__all__ = ["data_fingerprint", "data_record"]
