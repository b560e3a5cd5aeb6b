"""How a bias/variance experiment's points read as text (`expctl biasvar` and `expctl show`)."""

from __future__ import annotations

import math
from typing import Any

#: The decomposition numbers of a point's summary line, in this order (those it has).
SUMMARY_KEYS = ("train_error", "expected_error", "bias2_plus_noise", "bias2", "noise", "variance")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4g}"
    return "-" if value is None else str(value)


def summary_lines(points: list[dict[str, Any]]) -> list[str]:
    """One line per point: where it is, the decomposition, and the verdict on the next line."""
    lines = []
    for p in points:
        where = []
        if "scan_value" in p:
            where.append(f"{p.get('scan_key')}={_fmt(p['scan_value'])}")
        where.append(f"n_train={_fmt(p.get('train_size'))}")
        numbers = "  ".join(f"{k} {_fmt(p[k])}" for k in SUMMARY_KEYS if k in p)
        lines.append(f"{' '.join(where)}: {numbers}")
        lines.append(f"  {p.get('verdict', '')}")
    return lines


__all__ = ["SUMMARY_KEYS", "summary_lines"]
