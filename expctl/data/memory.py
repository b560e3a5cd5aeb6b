"""Giving back to the operating system the memory that preparing the data freed.

Reading a file and splitting it leaves freed memory that the allocators keep for reuse: Arrow's
memory pool (mimalloc or jemalloc) keeps what it decoded the Parquet batches into, and glibc's heap
keeps the many medium-sized temporaries of the split (scikit-learn's stratified permutations).
The process would carry ~250 MB of it per 4M events through training (issue 15); none of it is
needed again, so it is returned once the splits exist, before TensorFlow is loaded.
"""

from __future__ import annotations

import ctypes
import sys


def release_freed_memory() -> None:
    """Return freed memory held by Arrow's pool and glibc's heap to the OS (a no-op elsewhere)."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return
    trim(0)


__all__ = ["release_freed_memory"]
