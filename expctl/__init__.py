"""expctl: a command-line experiment runner for studying how deep networks are trained.

Importing this package is cheap: it loads no TensorFlow, Keras or matplotlib. The Python API
(`expctl.run`, `expctl.sweep`, `expctl.biasvar`, `expctl.ablate`, `expctl.compare`,
`expctl.load_run`, `expctl.Run`) is loaded on
first use; see expctl.api.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from expctl.version import __version__

__all__ = [
    "Run",
    "__version__",
    "ablate",
    "biasvar",
    "compare",
    "load_run",
    "predict",
    "run",
    "sweep",
]

if TYPE_CHECKING:
    from expctl.api import Run, ablate, biasvar, compare, load_run, predict, run, sweep

_API = ("Run", "ablate", "biasvar", "compare", "load_run", "predict", "run", "sweep")


def __getattr__(name: str) -> Any:
    if name in _API:
        from expctl import api

        return getattr(api, name)
    raise AttributeError(f"module 'expctl' has no attribute {name!r}")


class _Facade(types.ModuleType):
    """The `expctl` module, whose API names stay the API's functions.

    `expctl.biasvar`, `expctl.ablate` and `expctl.sweep` are also the names of subpackages: importing one sets
    it as an attribute of this module, which would hide the function from then on. Such an
    attribute is not set (the subpackage stays importable by name, through sys.modules).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade
