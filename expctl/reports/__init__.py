"""Self-contained HTML reports of runs (no TensorFlow, no network: plots are inline PNGs)."""

from __future__ import annotations

from expctl.reports.html import (
    REPORT_FILE,
    compare_report_html,
    run_report_html,
    write_compare_report,
    write_run_report,
)

__all__ = [
    "REPORT_FILE",
    "compare_report_html",
    "run_report_html",
    "write_compare_report",
    "write_run_report",
]
