"""Options shared by several commands."""

from __future__ import annotations

from typing import Any

import click

output_dir_option = click.option(
    "--output-dir",
    "output_dir",
    type=click.Path(file_okay=False, path_type=str),
    default="outputs",
    show_default=True,
    help="Folder holding the run directories.",
)

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec key, e.g. --set train.optimizer.learning_rate=0.01 (repeatable).",
)


def smoke_option(what: str) -> Any:
    """`--smoke`: the command through its usual code path, shrunk for CI (see expctl.spec.smoke)."""
    return click.option("--smoke", is_flag=True, help=f"Smoke test for CI: {what}.")


#: --chunk-size of `predict` and `evaluate`: events read and scored at a time
chunk_size_option = click.option(
    "--chunk-size",
    "rows",
    type=click.IntRange(1, 10_000_000),
    default=65_536,
    show_default=True,
    help="Events read and scored at a time (memory is bounded by it).",
)
