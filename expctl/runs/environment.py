"""A run's environment record: versions, machine and git state, what is needed to reproduce it.

No TensorFlow import: the framework versions are read from the modules a run has already loaded
(the same strings as `tf.__version__`), else from the installed packages' metadata.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from expctl.masking import mask_all


def _version(module: str) -> str | None:
    loaded = sys.modules.get(module)
    if loaded is not None and isinstance(getattr(loaded, "__version__", None), str):
        return loaded.__version__
    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def environment(spec_dir: Path) -> dict[str, Any]:
    """Versions, machine and git state (of the folder the spec is in)."""
    import numpy as np

    from expctl.version import __version__

    return {
        "expctl": __version__,
        "python": sys.version.split()[0],
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "git": git_state(spec_dir),
        "argv": mask_all(sys.argv),  # a storage or MLflow URL may hold a password
    }


def cpu_name() -> str:
    """The CPU's model name (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state(folder: Path) -> dict[str, Any] | None:
    """The commit `folder` is at and whether tracked files changed; None outside a repository."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty)}


__all__ = ["cpu_name", "environment", "git_state"]
