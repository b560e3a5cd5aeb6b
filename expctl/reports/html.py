"""HTML reports: one run (`report.html` in its directory) and a comparison (`compare --html`).

Each report is one file that opens without a network: styles are inline and figures are PNGs
embedded as base64 data URIs. Everything shown comes from the run directory's own files, and
every text is escaped (spec values and file names are user input).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from expctl.runs import layout
from expctl.runs.view import RunView
from expctl.version import __version__

REPORT_FILE = layout.REPORT
#: History rows shown in full; longer histories show the first and last rows around a gap.
MAX_HISTORY_ROWS = 200
#: Order of the plots in a run report (others follow, alphabetically).
PLOT_ORDER = (
    "learning_curves.png",
    "roc.png",
    "rejection.png",
    "overtraining.png",
    "confusion.png",
)

CSS = """
:root { --fg: #1d232a; --muted: #5c6670; --line: #d9dee3; --head: #f3f5f7; --accent: #2456a6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 14px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; vertical-align: middle; color: #fff; background: #6b7580; }
.badge.completed { background: #2e7d32; } .badge.failed, .badge.diverged { background: #c62828; }
.badge.interrupted, .badge.crashed { background: #ef6c00; } .badge.running { background: #1565c0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 120px; }
.card .k { color: var(--muted); font-size: 12px; } .card .v { font-size: 18px; font-weight: 600; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow: auto; max-height: 460px; border: 1px solid var(--line); border-radius: 6px; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px;
         align-items: start; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
pre { background: var(--head); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      overflow: auto; font-size: 12.5px; max-height: 520px; }
.kv td:first-child { color: var(--muted); }
.error { color: #c62828; white-space: pre-wrap; }
footer { color: var(--muted); font-size: 12px; margin-top: 36px; }
"""


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"  # counts (weighted ones are floats)
        return (
            f"{value:.4g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.4f}"
        )
    return str(value)


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    width = png_size(png)[0]
    # never drawn larger than the PNG itself: upscaled, a short figure's text becomes huge
    limit = f' style="max-width: {width}px"' if width else ""
    return f'<img alt="{escape(alt)}"{limit} src="data:image/png;base64,{data}">'


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; (0, 0) if the bytes are not a PNG."""
    if len(png) < 24 or not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return 0, 0
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _figure(png: bytes, caption: str) -> str:
    width, height = png_size(png)
    # a wide figure (several panels side by side) gets a whole row, or its text is unreadable
    wide = ' class="wide"' if height and width / height > 1.6 else ""
    return (
        f"<figure{wide}>{_image(png, caption)}<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool]) -> str:
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>"
        for h, n in zip(header, numeric, strict=True)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{escape(str(c))}</td>' if n else f"<td>{escape(str(c))}</td>"
            for c, n in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, body: str) -> str:
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}"
        f"<footer>made by expctl {escape(__version__)} on {made}; a self-contained file "
        "(no network needed)</footer></body></html>\n"
    )


# -------------------------------------------------------------------------------------- one run


def _metric_cards(metrics: dict[str, Any], task: str) -> str:
    main = {
        "binary": ("auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "loss"),
        "multiclass": ("accuracy", "auc", "loss"),
        "regression": ("rmse", "mae", "r2", "loss"),
    }.get(task, ("auc", "accuracy", "rmse", "r2", "loss"))
    cards = []
    for key in main:
        if key in metrics:
            value = _number(metrics[key])
            if key == "auc" and "auc_ci68_low" in metrics:
                value += (
                    f' <span class="k">[{_number(metrics["auc_ci68_low"])}, '
                    f"{_number(metrics['auc_ci68_high'])}]</span>"
                )
            cards.append(
                f'<div class="card"><div class="k">test {escape(key)}</div>'
                f'<div class="v">{value}</div></div>'
            )
    return f'<div class="cards">{"".join(cards)}</div>'


def _all_metrics(metrics: dict[str, Any]) -> str:
    rows = []
    for key, value in metrics.items():
        if key == "heads" and isinstance(value, dict):
            for head, hm in value.items():
                for k, v in hm.items():
                    if not isinstance(v, dict | list):
                        rows.append((f"{head}.{k}", _number(v)))
        elif isinstance(value, list):
            rows.append(
                (key, escape(str(value)) if len(str(value)) < 200 else f"(see {layout.METRICS})")
            )
        elif not isinstance(value, dict):
            rows.append((key, _number(value)))
    return _table(("metric", "value"), rows, (False, True))


def _history_table(view: RunView) -> str:
    # an empty cell (NaN) shows as a dash, as a cell the row lacks
    history = view.filled_history
    if not history:
        return f'<p class="sub">no {layout.HISTORY}</p>'
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    shown = history
    if len(history) > MAX_HISTORY_ROWS:
        half = MAX_HISTORY_ROWS // 2
        shown = [*history[:half], {}, *history[-half:]]
    rows = [[("…" if not row else _history_cell(row, c)) for c in columns] for row in shown]
    return f'<div class="scroll">{_table(columns, rows, [True] * len(columns))}</div>'


def _history_cell(row: dict[str, float], column: str) -> str:
    value = row.get(column)
    if column == "epoch" and value is not None:
        return str(int(value))
    return _number(value)


def _plots(view: RunView) -> str:
    files = [p for p in view.plots if p.suffix == ".png"]
    files.sort(key=lambda p: (PLOT_ORDER.index(p.name) if p.name in PLOT_ORDER else 99, p.name))
    if not files:
        return '<p class="sub">no plots</p>'
    return (
        '<div class="plots">' + "".join(_figure(p.read_bytes(), p.name) for p in files) + "</div>"
    )


def run_report_html(run_dir: Path) -> str:
    """The HTML report of one run directory (works for failed and partial runs too)."""
    view = RunView(run_dir)
    run_dir = view.path
    # as recorded: the run writes its report itself, before its final status
    status = view.recorded_status
    metrics = view.metrics or {}
    data = view.data or {}
    env = view.environment or {}
    spec_path = view.file(layout.SPEC)
    spec_text = (
        spec_path.read_text(encoding="utf-8") if spec_path.is_file() else f"(no {layout.SPEC})"
    )
    state = str(status.get("status", "unknown"))
    name = str(status.get("name", run_dir.name))
    duration = status.get("duration_s")
    facts = [
        ("run directory", str(run_dir)),
        ("started", status.get("started_at")),
        ("duration", f"{duration:.1f} s" if isinstance(duration, int | float) else None),
        ("data", data.get("description")),
        ("task", data.get("task")),
        (
            "events train/val/test",
            "/".join(str(data.get(k, "?")) for k in ("n_train", "n_val", "n_test"))
            if data
            else None,
        ),
        ("features", ", ".join(map(str, data.get("features", []))) or None),
        ("epochs trained", metrics.get("epochs_trained")),
        ("best epoch", metrics.get("best_epoch")),
        ("stopped epoch", metrics.get("stopped_epoch")),
        (
            "TensorFlow / Keras",
            " / ".join(str(env.get(k, "?")) for k in ("tensorflow", "keras")) if env else None,
        ),
        ("git", (env.get("git") or {}).get("commit") if env else None),
    ]
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in facts if v is not None
    )
    error = status.get("error")
    body = [
        f'<h1>{escape(name)} <span class="badge {escape(state)}">{escape(state)}</span></h1>',
        f'<p class="sub">{escape(run_dir.name)}</p>',
        f'<p class="error">{escape(str(error))}</p>' if error else "",
        _metric_cards(metrics, str(data.get("task", ""))) if metrics else "",
        f'<table class="kv">{rows}</table>',
        "<h2>Plots</h2>",
        _plots(view),
        "<h2>Test metrics</h2>",
        _all_metrics(metrics) if metrics else f'<p class="sub">no {layout.METRICS}</p>',
        "<h2>History</h2>",
        _history_table(view),
        "<h2>Resolved spec</h2>",
        f"<pre>{escape(spec_text)}</pre>",
    ]
    return _page(f"{name} - expctl run {run_dir.name}", "".join(body))


def write_run_report(run_dir: Path) -> Path:
    """Write `report.html` into the run directory (atomically) and return its path."""
    from expctl.runs import atomic_write_text

    path = Path(run_dir) / REPORT_FILE
    atomic_write_text(path, run_report_html(Path(run_dir)))
    return path


# ---------------------------------------------------------------------------------- comparison


def compare_report_html(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[bool],
    figures: Sequence[tuple[str, bytes]],
    runs: Sequence[Path],
) -> str:
    """A comparison report: the compare table, overlay figures, links to each run's report."""
    links = []
    for path in runs:
        report = path / REPORT_FILE
        target = report.resolve().as_uri() if report.is_file() else None
        label = escape(path.name)
        links.append(
            f'<li><a href="{escape(target)}">{label}</a></li>' if target else f"<li>{label}</li>"
        )
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{len(runs)} run(s)</p>',
        f'<div class="scroll">{_table(header, rows, numeric)}</div>',
        "<h2>Figures</h2>" if figures else "",
        '<div class="plots">' + "".join(_figure(png, cap) for cap, png in figures) + "</div>",
        "<h2>Runs</h2>",
        f"<ul>{''.join(links)}</ul>",
    ]
    return _page(title, "".join(body))


def write_compare_report(
    path: Path,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[bool],
    figures: Sequence[tuple[str, bytes]],
    runs: Sequence[Path],
) -> None:
    """Write `compare_report_html` to `path` (atomically, creating its folder)."""
    from expctl.runs import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, compare_report_html(title, header, rows, numeric, figures, runs))
