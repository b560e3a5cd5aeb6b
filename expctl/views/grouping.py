"""compare's row logic: spec values made comparable, the keys that differ, filters and seed groups.

Plain Python on row dicts (no pandas): a row is one run's id, name, status, flattened spec keys,
metrics, epochs, duration and path.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from expctl.views.table import is_number, value_text

#: Spec keys that name a run rather than configure it; never a differing key.
NAME_KEYS = frozenset({"name"})


def is_seed_key(key: str) -> bool:
    """A random seed: `seed`, `data.seed` and any other key whose last part is `seed`."""
    return key.rsplit(".", 1)[-1] == "seed"


def canonical(value: Any) -> Any:
    """A hashable stand-in for a spec value: 1 and 1.0 are equal, lists compare element-wise."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("nan",) if isinstance(value, float) and math.isnan(value) else ("num", float(value))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    return ("other", repr(value))


_MISSING = ("missing",)


def differing_keys(specs: Sequence[dict[str, Any]], ignore: Iterable[str] = NAME_KEYS) -> list[str]:
    """The flattened keys whose value is not the same in every spec (a key one spec lacks differs).

    Keys come in the order they first appear; `ignore` (default: the run name) is left out.
    """
    ignored = set(ignore)
    order: dict[str, None] = {}
    for spec in specs:
        order.update(dict.fromkeys(spec))
    out = []
    for key in order:
        if key in ignored:
            continue
        first = canonical(specs[0][key]) if key in specs[0] else _MISSING
        if any((canonical(s[key]) if key in s else _MISSING) != first for s in specs[1:]):
            out.append(key)
    return out


_FILTER = re.compile(
    r"^\s*(?P<key>[^=!<>\s][^=!<>]*?)\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>[^=!<>\s].*?)\s*$"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Filter:
    """`KEY OP VALUE` with OP one of = != > >= < <=; numbers compare numerically, the rest as text.

    Text equality ignores case (`train.shuffle=True` matches true); a list is written as
    `[64, 64]`, a null as `null`.
    """

    key: str
    op: str
    value: str

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether the row's value of `key` passes; a missing value only passes `!=`."""
        cell = row.get(self.key, _ABSENT)
        if cell is _ABSENT or (isinstance(cell, float) and math.isnan(cell)):
            return self.op == "!="
        compare = _OPS[self.op]
        number = _number(self.value)
        if number is not None and is_number(cell):
            return compare(float(cell), number)
        if self.op in ("=", "==", "!="):
            return compare(value_text(cell).lower(), self.value.lower())
        if number is not None:
            return False  # an ordering against a number: text cannot pass it
        return compare(value_text(cell), self.value)

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


_ABSENT = object()


def parse_filter(text: str) -> Filter:
    """`model.dropout>0.1` as a Filter; ValueError saying what a filter looks like."""
    match = _FILTER.match(text)
    if not match:
        raise ValueError(
            f"{text!r}: a filter is KEY OP VALUE with OP one of = != > >= < <=, "
            "e.g. status=completed or model.dropout>0.1"
        )
    return Filter(match["key"], match["op"], match["value"])


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def filter_rows(rows: list[dict[str, Any]], filters: Sequence[Filter]) -> list[dict[str, Any]]:
    """The rows that pass every filter; ValueError naming a key that no row has."""
    known: dict[str, None] = {}
    for row in rows:
        known.update(dict.fromkeys(row))
    for f in filters:
        if rows and f.key not in known:
            raise ValueError(f"filter {str(f)!r}: unknown key {f.key!r}; {choices(known)}")
    return [row for row in rows if all(f.matches(row) for f in filters)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) of the finite values; NaN where undefined."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(finite) / n
    if n == 1:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))


def group_rows(
    rows: list[dict[str, Any]], keys: Sequence[str], results: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows that differ only by seed keys (and name and id) merged into one row per group.

    Runs are grouped by status and by the values of `keys` except the seed keys. A group row has
    `id` (list of ids), `name` (the distinct names joined by ", "), `status`, each key of the
    first run (seed keys: the list of every run's value), `<result>_mean` and `<result>_std`
    (sample standard deviation over the finite values) for each of `results`, and `n_runs`.
    Groups come in the order of their first run.
    """
    config = [k for k in keys if not is_seed_key(k)]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        signature = (row.get("status"), *(canonical(row.get(k, _MISSING)) for k in config))
        groups.setdefault(signature, []).append(row)
    out = []
    for members in groups.values():
        first = members[0]
        merged: dict[str, Any] = {
            key: value for key, value in first.items() if key not in results and key != "path"
        }
        merged["id"] = [m["id"] for m in members]
        merged["name"] = ", ".join(dict.fromkeys(str(m.get("name")) for m in members))
        merged["path"] = [m.get("path") for m in members]
        for key in first:
            if is_seed_key(key):
                merged[key] = [m.get(key) for m in members]
        for column in results:
            mean, std = mean_std([_float(m.get(column)) for m in members])
            merged[f"{column}_mean"] = mean
            merged[f"{column}_std"] = std
        merged["n_runs"] = len(members)
        out.append(merged)
    return out


def _float(value: Any) -> float:
    return float(value) if is_number(value) else math.nan


def choices(names: Iterable[str]) -> str:
    """`known keys: a, b, ...` (at most 60 shown, `path` left out), for error messages."""
    names = [n for n in names if n != "path"]
    shown = ", ".join(names[:60]) + (f", ... ({len(names) - 60} more)" if len(names) > 60 else "")
    return f"known keys: {shown}"


__all__ = [
    "NAME_KEYS",
    "Filter",
    "canonical",
    "choices",
    "differing_keys",
    "filter_rows",
    "group_rows",
    "is_seed_key",
    "mean_std",
    "parse_filter",
]
