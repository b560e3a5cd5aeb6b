"""expctl: a command-line experiment runner for studying how deep networks are trained.

Importing this package is cheap: it loads no TensorFlow, Keras or matplotlib. The Python API
(`expctl.run`, `expctl.load_run`, `expctl.Run`) is loaded on first use; see expctl.api.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Run", "__version__", "load_run", "run"]

if TYPE_CHECKING:
    from expctl.api import Run, load_run, run

_API = ("Run", "load_run", "run")


def __getattr__(name: str) -> Any:
    if name in _API:
        from expctl import api

        return getattr(api, name)
    raise AttributeError(f"module 'expctl' has no attribute {name!r}")
