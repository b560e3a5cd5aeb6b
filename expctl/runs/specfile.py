"""Read a run's stored spec.yaml as plain data, safely and within bounds (no TensorFlow, no pydantic).

The resolved spec a run wrote is read back by every view. It is parsed with a safe loader
(libyaml's when PyYAML has it: 5-10x faster) that reads numbers and booleans as specs do (YAML
1.2 core schema), and refused when it is too large or too deep to be a resolved spec: YAML
aliases can make a small file stand for an enormous tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from expctl.spec.yamlio import use_core_schema

#: Both build plain data only (no Python objects).
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@use_core_schema
class SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader (C-accelerated where available) reading numbers and booleans as specs do."""


#: A spec.yaml larger than this is not a resolved spec; it is not parsed.
MAX_SPEC_BYTES = 1_000_000
#: A spec tree with more values than this, or nested deeper, is refused (each alias is counted
#: every time it is reached).
MAX_NODES = 100_000
MAX_DEPTH = 64


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def read_spec_file(path: Path) -> dict[str, Any]:
    """Parse a run's spec.yaml into a dict; ValueError (naming the path and why) otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise ValueError(f"{path}: {size:,} bytes; a resolved spec is a small file")
        data = yaml.load(path.read_bytes(), Loader=SpecLoader)  # SpecLoader is a safe loader
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except (OSError, yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"{path}: unreadable spec: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    check_size(data, path)
    return data


def check_size(data: Any, path: Path) -> None:
    """ValueError if the tree has more than MAX_NODES values or is nested deeper than MAX_DEPTH."""
    count = 0
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise ValueError(
                f"{path}: more than {MAX_NODES:,} values or {MAX_DEPTH} levels "
                "(nested aliases?); not a resolved spec"
            )
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_SPEC_BYTES", "SpecLoader", "check_size", "read_spec_file"]
