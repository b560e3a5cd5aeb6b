"""`show`: one run on one screen (spec, status, metrics, epochs, plots, environment), via RunView."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from expctl.runs import layout
from expctl.runs.view import RunView
from expctl.views.biasvar import summary_lines

#: Training bookkeeping shown on the `epochs` line rather than among the test metrics.
EPOCH_KEYS = ("epochs_trained", "best_epoch", "stopped_epoch")


def collect(run_dir: Path) -> dict[str, Any]:
    """Everything `show` prints, read through RunView; unreadable parts become warnings.

    Keys: run, path, warnings, status, metrics, environment, data, spec (None when absent or
    unreadable), plots; a bias/variance experiment adds decomposition (its points) and members.
    """
    view = RunView(run_dir)
    has_status = view.exists(layout.STATUS)
    info: dict[str, Any] = {
        "run": view.id,
        "path": str(view.path),
        "warnings": view.warnings,
        "status": (view.status or None) if has_status else None,
        "metrics": view.metrics,
        "environment": view.environment,
        "data": view.data,
        "spec": view.spec,
        "plots": [str(p) for p in view.plots],
    }
    if has_status and view.is_biasvar:
        info["decomposition"] = view.points
        members = view.file(layout.MEMBERS)
        info["members"] = sorted(p.name for p in members.iterdir()) if members.is_dir() else []
    return info


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return "-" if value is None else str(value)


def show_text(info: dict[str, Any]) -> str:
    """`collect`'s result as the lines `expctl show` prints."""
    lines: list[str] = []
    status = info["status"] or {}
    lines.append(f"run       {info['run']}")
    lines.append(f"path      {info['path']}")
    lines.append(
        f"status    {status.get('status', 'unknown')}"
        + (f"  ({status['error']})" if status.get("error") else "")
    )
    lines.append(
        f"started   {_fmt(status.get('started_at'))}   duration {_fmt(status.get('duration_s'))} s"
    )
    data = info.get("data") or {}
    if data:
        lines.append(
            f"data      {data.get('description')}; {data.get('task')}; "
            f"{data.get('n_train')}/{data.get('n_val')}/{data.get('n_test')} train/val/test"
        )
    metrics = info["metrics"] or {}
    epochs = {k: metrics.get(k) for k in EPOCH_KEYS}
    if metrics:
        lines.append(
            "epochs    " + "  ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in epochs.items())
        )
        lines.append("test metrics")
        scalars = {
            k: v
            for k, v in metrics.items()
            if k not in epochs and isinstance(v, int | float | None)
        }
        for key, value in scalars.items():
            lines.append(f"  {key:<24}{_fmt(value)}")
    if info.get("decomposition") is not None:
        members = Path(info["path"]) / layout.MEMBERS
        lines.append(f"biasvar   {len(info['members'])} member runs under {members}")
        for line in summary_lines(info["decomposition"]):
            lines.append(f"  {line}")
    for plot in info["plots"]:
        lines.append(f"plot      {plot}")
    env = info["environment"] or {}
    if env:
        git = env.get("git") or {}
        commit = (
            f"; git {git.get('commit', '')[:10]}{' (dirty)' if git.get('dirty') else ''}"
            if git
            else ""
        )
        lines.append(
            f"env       python {env.get('python')}, tensorflow {env.get('tensorflow')}, "
            f"keras {env.get('keras')}; {env.get('cpu')}{commit}"
        )
    if info["spec"] is not None:
        import yaml

        lines.append("spec")
        lines.append(
            "  "
            + yaml.safe_dump(info["spec"], sort_keys=False, default_flow_style=None, width=100)
            .rstrip()
            .replace("\n", "\n  ")
        )
    return "\n".join(lines) + "\n"


__all__ = ["EPOCH_KEYS", "collect", "show_text"]
