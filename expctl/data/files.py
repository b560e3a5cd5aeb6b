"""Data files: where a spec's data path points, and the checks made before numpy reads an .npz.

Shared by the file sources (`expctl.data.sources`) and the image sources (`expctl.data.images`).
Every problem is a DataError (exit 2) naming the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from expctl.errors import DataError

#: Environment variable naming a folder where relative data paths are also looked for.
DATA_DIR_ENV = "EXPCTL_DATA_DIR"


def resolve_path(path: str, base_dir: Path) -> Path:
    """A data path as given if absolute; else relative to the spec's folder, then to $EXPCTL_DATA_DIR."""
    given = Path(os.path.expanduser(path))
    if given.is_absolute():
        candidates = [given]
    else:
        candidates = [base_dir / given]
        data_dir = os.environ.get(DATA_DIR_ENV)
        if data_dir:
            candidates.append(Path(data_dir) / given)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    hint = "" if os.environ.get(DATA_DIR_ENV) else f" (set {DATA_DIR_ENV} to a folder holding it)"
    raise DataError(f"data.path: file {path!r} not found; looked at {tried}{hint}")


def check_npz_member(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    """Refuse object arrays and headers that declare more data than the member holds.

    ``name`` is the array's name (its archive member without ``.npy``), which must exist; call
    this on every array before ``np.load`` reads it, so a forged header cannot make numpy
    allocate more memory than the file holds. ``path`` is only named in the DataError.
    """
    info = archive.getinfo(f"{name}.npy")
    with archive.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(fh)
        except ValueError as exc:
            raise DataError(f"{path}: array {name!r} has a malformed header: {exc}") from None
    if dtype.hasobject:
        raise DataError(f"{path}: array {name!r} holds Python objects; expctl never unpickles data")
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if declared > info.file_size:
        raise DataError(
            f"{path}: array {name!r} declares {declared:,} bytes but the archive member holds "
            f"{info.file_size:,}; the file is truncated or forged"
        )
