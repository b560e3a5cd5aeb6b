"""Every relative link in README.md and docs/*.md leads somewhere: a file, and its heading."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```.*?```", re.S)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", FENCE.sub("", page.read_text()), re.M)}


def broken_links(pages: list[Path]) -> list[str]:
    bad = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", page.read_text())):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                bad.append(f"{page.name}: {target} (no such heading)")
    return bad


def test_every_relative_link_resolves() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 5
    assert broken_links(pages) == []


def test_the_checker_finds_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    (tmp_path / "q.md").write_text("# Real heading\n")
    page.write_text(
        "[a](q.md#real-heading) [b](missing.md) [c](q.md#nope) [d](https://x.org/y)\n"
        "```\n[e](ignored-in-code.md)\n```\n"
    )
    assert broken_links([page]) == [
        "p.md: missing.md (no such file)",
        "p.md: q.md#nope (no such heading)",
    ]
