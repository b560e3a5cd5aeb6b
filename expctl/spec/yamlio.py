"""Safe YAML reading that remembers where every key was written.

Only plain data is built (mappings, lists, strings, numbers, booleans, null): no Python tags,
no duplicate keys, bounded size and depth (alias bombs stop early). Scalars follow YAML 1.2's
core schema, which is what people expect: `1e-3` is a number, `no` and `off` stay strings (so a
boolean key refuses them instead of reading False), and `010` is not an octal 8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from expctl.errors import SpecError

Path = tuple[str | int, ...]

MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_BYTES = 5_000_000

_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


def use_core_schema(loader: type[Any]) -> type[Any]:
    """Give a PyYAML safe loader class YAML 1.2 core-schema booleans, integers and floats."""
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    loader.add_implicit_resolver(
        _INT,
        re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    loader.add_implicit_resolver(
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    loader.add_constructor(_INT, _construct_int)
    return loader


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    return int(text, 0) if text.startswith(("0o", "0x")) else int(text, 10)


@use_core_schema
class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars."""


@dataclass
class Document:
    """Parsed YAML data plus, for every key path, the line it was written on."""

    data: Any
    source: str
    lines: dict[Path, int] = field(default_factory=dict)

    def where(self, path: Path) -> str:
        """`file:line` of the closest written ancestor of `path` (the file alone if none)."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return f"{self.source}:{line}"
        return self.source


def parse_yaml(text: str, source: str) -> Document:
    """Parse YAML text into plain data with line numbers; SpecError on anything unsafe or malformed."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise SpecError(
            f"{source}: file is larger than {MAX_BYTES // 1_000_000} MB; a spec is a small file"
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, source)
        doc = Document(None, source)
        counter = [0]
        doc.data = _build(loader, node, (), doc, counter, 0)
        return doc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}: {problem}" if context else problem
        raise SpecError(f"{where}: invalid YAML: {detail}") from None
    except RecursionError:
        # PyYAML composes nested flow collections ([[[...]]]) recursively, before our depth check
        raise SpecError(
            f"{source}: invalid YAML: nested too deeply to read (a spec has at most "
            f"{MAX_DEPTH} levels)"
        ) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
        raise SpecError(
            f"{source}: invalid YAML: a number with thousands of digits; no spec key takes one"
        ) from None
    finally:
        loader.dispose()


def _build(
    loader: _Loader, node: yaml.Node, path: Path, doc: Document, counter: list[int], depth: int
) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise SpecError(
            f"{doc.source}: the document expands to more than {MAX_NODES:,} values "
            "(nested aliases?); refusing to build it"
        )
    if depth > MAX_DEPTH:
        raise SpecError(
            f"{doc.source}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
        )
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        raise SpecError(
            f"{doc.source}:{node.start_mark.line + 1}: invalid YAML: tag {node.tag!r} is not allowed; "
            "a spec holds plain mappings, lists and scalars"
        )
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise SpecError(f"{doc.source}:{line}: keys must be strings, got {key!r}")
            if key in out:
                first = doc.lines.get((*path, key), "?")
                raise SpecError(
                    f"{doc.source}:{line}: duplicate key '{_dotted((*path, key))}' (first given on line {first})"
                )
            doc.lines[(*path, key)] = line
            out[key] = _build(loader, value_node, (*path, key), doc, counter, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, child, (*path, i), doc, counter, depth + 1)
            for i, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def parse_scalar(text: str, source: str) -> Any:
    """Parse one value written on the command line (`--set key=VALUE`) with the spec's YAML rules."""
    doc = parse_yaml(text, source)
    return doc.data


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted


def dump_yaml(data: Any) -> str:
    """Plain YAML for a resolved spec: keys in spec order, block style."""
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=120
    )
