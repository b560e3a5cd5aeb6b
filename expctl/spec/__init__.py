"""The experiment spec: schema, safe YAML loading with line numbers, --set overrides.

Names are loaded on first use, so importing `expctl.spec.yamlio` alone (as the views do) does not
import pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from expctl.spec.load import LoadedSpec, load_spec, resolved_dict, resolved_yaml, spec_from_dict
    from expctl.spec.schema import Spec

_EXPORTS = {
    "LoadedSpec": "expctl.spec.load",
    "load_spec": "expctl.spec.load",
    "resolved_dict": "expctl.spec.load",
    "resolved_yaml": "expctl.spec.load",
    "spec_from_dict": "expctl.spec.load",
    "Spec": "expctl.spec.schema",
}
__all__ = ["LoadedSpec", "Spec", "load_spec", "resolved_dict", "resolved_yaml", "spec_from_dict"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'expctl.spec' has no attribute {name!r}")
