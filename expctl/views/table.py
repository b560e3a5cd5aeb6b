"""The compare table and its formats: aligned text, markdown, csv and json (plain Python only).

A `Table` holds rows (dicts) and the logical columns to show; the formatters turn it into text.
In a grouped table a result column `auc` is stored as `auc_mean` and `auc_std`; text and markdown
show "mean ± std", csv and json write both fields.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from expctl.runs.atomic import to_json

#: The columns every row has, before the spec keys.
INFO_COLUMNS = ("id", "name", "status")
#: Training bookkeeping, read from metrics.json or (diverged runs) status.json's `training`.
EPOCH_COLUMNS = ("epochs_trained", "best_epoch", "stopped_epoch")
#: Of those, the ones shown by default.
DEFAULT_EPOCH_COLUMNS = ("best_epoch", "stopped_epoch")
DURATION_COLUMN = "duration_s"
#: Columns that describe a group of runs rather than one.
GROUP_COLUMNS = ("n_runs",)
FORMATS = ("table", "csv", "json", "markdown")


@dataclass
class Table:
    """Rows of a comparison and the (logical) columns to show, in order.

    In a grouped table each row is a group of runs that differ only by seed: `id` is the list of
    the runs' ids, each result column `x` is stored as `x_mean` and `x_std`, and `n_runs` counts
    the runs; `results` names the result (averaged) columns. `metrics` maps each metric column
    to the metric's catalogue name (`test_auc` -> `auc` when a spec key took the name `auc`).
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    keys: list[str]
    results: list[str]
    grouped: bool = False
    available: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)


_ABSENT = object()


def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_text(value: Any) -> str:
    """A spec value as YAML would write it: null, true, [64, 64], 0.001."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _number_text(value: Any, column: str) -> str:
    """A result as text: epochs as integers, durations to 0.1 s, metrics to 4 decimals."""
    if not is_number(value) or math.isnan(value):
        return "-"
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if column in EPOCH_COLUMNS and value.is_integer():
        return str(int(value))
    if column == DURATION_COLUMN or column in EPOCH_COLUMNS:
        return f"{value:.1f}"
    if value == 0 or abs(value) >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.3g}"


def _flat_fields(table: Table, column: str) -> list[str]:
    """The csv/json fields behind a logical column (grouped: `auc` -> auc_mean, auc_std)."""
    if table.grouped and column in table.results:
        return [f"{column}_mean", f"{column}_std"]
    if table.grouped and column == "id":
        return ["ids"]
    return [column]


def flat_columns(table: Table) -> list[str]:
    """The field names of the csv header and of each json row."""
    return [f for column in table.columns for f in _flat_fields(table, column)]


def flat_rows(table: Table) -> list[dict[str, Any]]:
    """Each row as the csv/json fields: plain values, NaN as None."""
    out = []
    for row in table.rows:
        record: dict[str, Any] = {}
        for name in flat_columns(table):
            value = row.get("id" if name == "ids" else name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            record[name] = value
        out.append(record)
    return out


def _cell(table: Table, row: dict[str, Any], column: str) -> str:
    """What the text and markdown tables show in a cell."""
    if table.grouped and column in table.results:
        mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
        text = _number_text(mean, column)
        if is_number(std) and math.isfinite(std) and text != "-":
            text += f" ± {_number_text(std, column)}"
        return text
    value = row.get(column, _ABSENT)
    if value is _ABSENT:
        return "-"
    if column == "id" and isinstance(value, list):
        return value[0] + (f" (+{len(value) - 1})" if len(value) > 1 else "")
    if column in table.results or column.endswith(("_mean", "_std")):
        return _number_text(value, column.removesuffix("_mean").removesuffix("_std"))
    return value_text(value)


def _is_numeric_column(table: Table, column: str) -> bool:
    if column in table.results or column == "n_runs" or column.endswith(("_mean", "_std")):
        return True
    values = [row.get(column) for row in table.rows if row.get(column) is not None]
    return bool(values) and all(is_number(v) for v in values)


def _display_columns(table: Table) -> list[str]:
    """The text table hides n_runs when no group has more than one run."""
    if table.grouped and all(row.get("n_runs", 1) == 1 for row in table.rows):
        return [c for c in table.columns if c != "n_runs"]
    return table.columns


def format_text(table: Table) -> str:
    """An aligned plain-text table (numbers right-aligned); empty string for no rows."""
    if not table.rows:
        return ""
    columns = _display_columns(table)
    body = [[_cell(table, row, c) for c in columns] for row in table.rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)]
    right = [_is_numeric_column(table, c) for c in columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(r) for r in body)]) + "\n"


def table_cells(table: Table) -> tuple[list[str], list[list[str]], list[bool]]:
    """The displayed columns, each row's cells as text, and which columns are numeric."""
    columns = _display_columns(table)
    rows = [[_cell(table, row, c) for c in columns] for row in table.rows]
    return columns, rows, [_is_numeric_column(table, c) for c in columns]


def format_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table (numbers right-aligned, `|` escaped)."""
    columns = _display_columns(table)

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(escape(c) for c in columns) + " |",
        "|" + "|".join("---:" if _is_numeric_column(table, c) else "---" for c in columns) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(escape(_cell(table, row, c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _csv_value(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "ids":
        return " ".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def format_csv(table: Table) -> str:
    """CSV: a header of field names (spec keys by dotted path) and full-precision values.

    Lists and mappings are written as JSON, the ids of a group separated by spaces, null as "".
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(flat_columns(table))
    for record in flat_rows(table):
        writer.writerow([_csv_value(k, v) for k, v in record.items()])
    return out.getvalue()


def format_json(table: Table) -> str:
    """JSON: {"grouped", "differing_keys", "columns", "rows"}; NaN is null."""
    return to_json(
        {
            "grouped": table.grouped,
            "differing_keys": table.keys,
            "columns": flat_columns(table),
            "rows": flat_rows(table),
        }
    )


def format_table(table: Table, fmt: str) -> str:
    """The table as `table` (aligned text), `csv`, `json` or `markdown`."""
    formatters = {
        "table": format_text,
        "csv": format_csv,
        "json": format_json,
        "markdown": format_markdown,
    }
    if fmt not in formatters:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return formatters[fmt](table)


__all__ = [
    "DEFAULT_EPOCH_COLUMNS",
    "DURATION_COLUMN",
    "EPOCH_COLUMNS",
    "FORMATS",
    "GROUP_COLUMNS",
    "INFO_COLUMNS",
    "Table",
    "flat_columns",
    "flat_rows",
    "format_csv",
    "format_json",
    "format_markdown",
    "format_table",
    "format_text",
    "is_number",
    "table_cells",
    "value_text",
]
