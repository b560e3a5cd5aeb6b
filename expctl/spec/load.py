"""Turn a spec file plus `--set` overrides into one validated, frozen Spec.

This is the only place a spec is validated. Errors name the file and line (or the `--set`
argument), the full key path, what is allowed and, for a typo, the closest valid key.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from expctl.errors import SpecError, did_you_mean
from expctl.masking import mask_data
from expctl.spec.schema import TAGGED, Spec
from expctl.spec.yamlio import Document, Path, dotted, dump_yaml, parse_scalar, parse_yaml

_KEY_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where it came from (relative data paths resolve against `base_dir`)."""

    spec: Spec
    source: str
    base_dir: FsPath


def load_spec(
    path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()
) -> LoadedSpec:
    """Read, override and validate a spec file; SpecError (exit 2) on any problem."""
    fs_path = FsPath(path)
    source = str(path)
    try:
        raw = fs_path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{source}: spec file not found") from None
    except IsADirectoryError:
        raise SpecError(f"{source}: is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError(f"{source}: cannot read spec file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    doc = parse_yaml(text, source)
    if doc.data is None:
        raise SpecError(
            f"{source}: the spec file is empty; see experiments/quickstart.yaml for an example"
        )
    spec = validate(doc, overrides)
    return LoadedSpec(spec=spec, source=source, base_dir=fs_path.resolve().parent)


def spec_from_dict(
    data: dict[str, Any], source: str = "<dict>", overrides: list[str] | tuple[str, ...] = ()
) -> Spec:
    """Validate a spec given as plain data (used by tests and the Python API)."""
    return validate(Document(copy.deepcopy(data), source), overrides)


def validate(doc: Document, overrides: list[str] | tuple[str, ...] = ()) -> Spec:
    """Apply overrides to a parsed document and validate it against the Spec schema."""
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__ if doc.data is not None else "nothing"
        raise SpecError(
            f"{doc.where(())}: a spec is a mapping of keys (name:, data:, model:, ...), got {kind}"
        )
    data = copy.deepcopy(doc.data)
    origins: dict[Path, str] = {}
    for item in overrides:
        path, value = _parse_override(item)
        set_path(data, path, value, item)
        origins[path] = f"--set {item}"
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(err, data, doc, origins) for err in exc.errors(include_url=False)]
        unique = list(dict.fromkeys(lines))
        raise SpecError(f"invalid spec {doc.source}:\n  " + "\n  ".join(unique)) from None


def resolved_dict(spec: Spec, *, masked: bool = False) -> dict[str, Any]:
    """The spec with every default filled in, tag keys (source, type, name) first in their section.

    `masked`: the password of every URL in it (an MLflow URI in tracking.mlflow) replaced by
    `***`, for what is written, printed or hashed; the default keeps it, for running the spec.
    """
    data = spec.model_dump(mode="python")  # plain data; keeps integer keys (class_weight)
    for path, (tag, _) in TAGGED.items():
        section = _get(data, path)
        if isinstance(section, dict) and tag in section:
            reordered = {tag: section[tag], **{k: v for k, v in section.items() if k != tag}}
            _get(data, path[:-1])[path[-1]] = reordered
    return mask_data(data) if masked else data


def resolved_yaml(spec: Spec) -> str:
    """The resolved spec as YAML, for a file (spec.yaml): reading it back gives the same Spec,
    except that a password in a URL is `***` (see expctl.masking; exporting such a run to MLflow
    takes the password from the environment)."""
    return dump_yaml(resolved_dict(spec, masked=True))


# ------------------------------------------------------------------------------------ overrides


def _parse_override(item: str) -> tuple[Path, Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError(
            f"--set {item!r}: expected KEY=VALUE, e.g. --set train.optimizer.learning_rate=0.01"
        )
    parts = key.split(".")
    if not all(_KEY_PART.match(p) for p in parts):
        raise SpecError(f"--set {item!r}: {key!r} is not a dotted key path like model.dropout")
    if not text.strip():
        raise SpecError(f"--set {item!r}: no value after '='")
    value = parse_scalar(text, f"--set {item}")
    path = tuple(int(p) if p.isdigit() else p for p in parts)
    return path, value


def set_path(data: dict[str, Any], path: Path, value: Any, item: str) -> None:
    """Set ``value`` at key ``path`` of plain spec data, creating the mappings on the way.

    Mutates ``data``. A list index must already exist (lists are never extended) and a key path
    through a non-mapping replaces it with a mapping. A bad path raises SpecError, worded as for
    ``--set item`` (``item`` is the `--set` argument, or what else set the value) with the key.
    """
    node: Any = data
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                raise SpecError(
                    f"--set {item!r}: {dotted(path[: i + 1])} is not an index of the list"
                )
            child = node[part]
        else:
            if isinstance(part, int):
                raise SpecError(f"--set {item!r}: {dotted(path[:i])} is not a list")
            child = node.get(part)
        if not isinstance(child, dict | list) or (
            isinstance(child, list) and not isinstance(nxt, int)
        ):
            child = {}
            node[part] = child
        node = child
    last = path[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not 0 <= last < len(node):
            raise SpecError(f"--set {item!r}: {dotted(path)} is not an index of the list")
    elif isinstance(last, int):
        raise SpecError(f"--set {item!r}: {dotted(path[:-1])} is not a list")
    node[last] = value


def _get(data: Any, path: Path) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


# --------------------------------------------------------------------------------------- errors


def _describe(
    err: dict[str, Any], data: dict[str, Any], doc: Document, origins: dict[Path, str]
) -> str:
    path, model = _clean_path(err["loc"])
    where = _where(path, doc, origins)
    key = dotted(path) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = sorted(model.model_fields) if model is not None else []
        hint = did_you_mean(str(path[-1]), allowed)
        return f"{where}: {key}: unknown key{hint}; allowed here: {', '.join(allowed)}"
    if kind == "unknown_variant":
        tag = err["ctx"]["key"]
        registry = TAGGED.get(path, (tag, {}))[1]
        given = _get(data, (*path, tag))
        where = _where((*path, tag), doc, origins)
        if given is None:
            return f"{where}: {dotted((*path, tag))}: required; one of {', '.join(registry)}"
        hint = did_you_mean(str(given), list(registry))
        return f"{where}: {dotted((*path, tag))}: unknown value {given!r}{hint}; one of {', '.join(registry)}"
    if kind == "missing":
        return f"{where}: {key}: required key missing"
    message = _MESSAGES.get(kind, err["msg"].removeprefix("Value error, "))
    given = err.get("input")
    if kind != "value_error" and isinstance(given, str | int | float | bool):
        message += f" (got {given!r})"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", err["ctx"]["expected"])
        message += did_you_mean(str(given), expected)
    return f"{where}: {key}: {message}"


_MESSAGES = {
    "model_type": "must be a mapping of keys (key: value lines, or {key: value})",
    "model_attributes_type": "must be a mapping of keys (key: value lines, or {key: value})",
    "string_pattern_mismatch": (
        "must be letters, digits, '_', '.' or '-', start with a letter or digit, at most 64 characters"
    ),
}


def _where(path: Path, doc: Document, origins: dict[Path, str]) -> str:
    """The --set argument that wrote `path` (or a key under it), else the file and line."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in origins:
            return origins[tuple(path[:n])]
    for origin_path, origin in origins.items():
        if origin_path[: len(path)] == path:
            return origin
    return doc.where(path)


def _clean_path(loc: tuple[Any, ...]) -> tuple[Path, type[BaseModel] | None]:
    """Drop pydantic's union tags from an error location; return it and the model holding its last key."""
    path: list[str | int] = []
    current: type[BaseModel] | None = Spec
    holder: type[BaseModel] | None = Spec
    for part in loc:
        variants = TAGGED.get(tuple(path), (None, {}))[1]
        if current is None and part in variants:
            current = variants[part]  # pydantic names the chosen variant in the location
            continue
        path.append(part)
        holder = current
        current = _field_model(current, part) if current is not None else None
    return tuple(path), holder


def _field_model(model: type[BaseModel], part: Any) -> type[BaseModel] | None:
    if not isinstance(part, str):
        return None
    field = model.model_fields.get(part)
    if field is None:
        return None
    return _only_model(field.annotation)


def _only_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = [m for m in (_only_model(a) for a in get_args(annotation)) if m is not None]
    if get_origin(annotation) is list:
        return None
    return found[0] if len(found) == 1 else None
