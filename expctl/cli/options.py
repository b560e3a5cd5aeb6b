"""Options shared by several commands."""

from __future__ import annotations

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
