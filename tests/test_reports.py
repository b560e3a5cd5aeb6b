"""report.html of a run and `compare --html`: self-contained, showing the run's own numbers."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

from expctl.cli import cli
from expctl.reports import run_report_html, write_run_report


class _Refs(HTMLParser):
    """Every src/href of a page, and the text of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def _self_contained(refs: list[str]) -> bool:
    return all(r.startswith(("data:image/png;base64,", "file://", "#")) for r in refs)


def test_every_run_writes_a_self_contained_report(trained_runs) -> None:
    run = trained_runs["binary"]
    html = (run / "report.html").read_text()
    page = _parse(html)
    assert _self_contained(page.refs), page.refs
    images = [r for r in page.refs if r.startswith("data:image/png")]
    assert len(images) == len(list((run / "plots").glob("*.png"))) >= 4
    metrics = json.loads((run / "metrics.json").read_text())
    text = " ".join(page.text)
    assert f"{metrics['auc']:.4f}" in text
    assert "completed" in text
    assert "Resolved spec" in text and "hidden: [8]" in text
    rows = (run / "history.csv").read_text().strip().splitlines()[1:]
    history = html.split("<h2>History</h2>")[1].split("<h2>")[0]
    assert len(re.findall(r"<tr>", history)) == 1 + len(rows)  # the header, then one per epoch


def test_report_escapes_what_the_run_directory_holds(trained_runs, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_runs["multiclass"], run)
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text().replace("name: digits", "name: <script>alert(1)</script>"))
    html = run_report_html(run)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert write_run_report(run).read_text() == (run / "report.html").read_text()


def test_compare_html(trained_runs, tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    runs = [str(trained_runs["binary"]), str(trained_runs["multiclass"])]
    result = CliRunner().invoke(cli, ["compare", *runs, "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    page = _parse(html)
    assert _self_contained(page.refs)
    text = " ".join(page.text)
    for run in trained_runs.values():
        assert run.name in text
    # learning curves, the metric per run, and the ROC overlay of the binary run
    assert len([r for r in page.refs if r.startswith("data:image/png")]) == 3
