"""`expctl ui [DIR]`: a local, read-only dashboard of the runs in DIR (the `ui` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.errors import BadInputError


@click.command()
@click.argument(
    "directory",
    metavar="[DIR]",
    required=False,
    default="outputs",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="TCP port (0 picks a free one).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Any address but loopback needs the access token printed at start.",
)
def ui(directory: Path, port: int, host: str) -> None:
    """Browse the runs in DIR (default: outputs) in a web browser, live while they train.

    The runs table of `compare` (sort, filter, seed groups), a page per run with its learning
    curves, spec and environment, and ROC / rejection overlays of selected runs. Read-only;
    listens on 127.0.0.1 unless --host says otherwise.
    """
    from expctl.ui import INSTALL_HINT, missing_requirements

    missing = missing_requirements()
    if missing:
        raise BadInputError(f"expctl ui needs {', '.join(missing)}; {INSTALL_HINT}")
    if not directory.is_dir():
        raise BadInputError(f"{directory}: no such directory (DIR: a folder of run directories)")
    from expctl.ui.server import serve

    serve(directory, host=host, port=port, echo=click.echo)
