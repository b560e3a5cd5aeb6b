"""`expctl init [--template T] [PATH]`: write a commented starter spec that validates."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import click

#: Template name -> file under expctl/templates/ (each is tested to validate).
TEMPLATES = {name: f"{name}.yaml" for name in ("mlp", "cnn", "multitask", "sweep")}


def render(template: str, path: Path) -> str:
    """The template's text with its run name (from the file name) and path filled in."""
    text = resources.files("expctl.templates").joinpath(TEMPLATES[template]).read_text()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("._-")[:64] or template
    return text.replace("{name}", name).replace("{path}", str(path))


@click.command()
@click.argument(
    "path", metavar="[PATH]", required=False, default=None, type=click.Path(dir_okay=False)
)
@click.option(
    "--template",
    "-t",
    type=click.Choice(list(TEMPLATES)),
    default="mlp",
    show_default=True,
    help="What the spec trains: an MLP on jets, a CNN on digits, a multitask MLP, or a sweep.",
)
def init(path: str | None, template: str) -> None:
    """Write a commented starter spec to PATH (default spec.yaml); never overwrites a file."""
    from expctl.errors import BadInputError
    from expctl.runs import layout

    # the default is the name a run gives its resolved spec (imported here: --help stays light)
    target = Path(path if path is not None else layout.SPEC)
    if target.exists():
        raise BadInputError(
            f"{target} already exists; give another PATH (expctl init never overwrites)"
        )
    if not target.parent.is_dir():
        raise BadInputError(f"{target.parent}: no such folder")
    text = render(template, target)
    try:
        # exclusive create: a file that appears meanwhile is not overwritten either
        with open(target, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise BadInputError(f"{target} already exists; give another PATH") from None
    run = "sweep" if template == "sweep" else "run"
    click.echo(f"wrote {target} ({template}); next: expctl {run} {target}")
