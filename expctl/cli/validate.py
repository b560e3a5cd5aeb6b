"""`expctl validate SPEC`: check a spec and print it with every default filled in."""

from __future__ import annotations

import click

from expctl.cli.options import set_option


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@set_option
def validate(spec_path: str, overrides: tuple[str, ...]) -> None:
    """Validate SPEC and print the resolved spec (exit 2 with the reasons if it is invalid)."""
    from expctl.spec import load_spec, resolved_yaml

    loaded = load_spec(spec_path, overrides)
    click.echo(resolved_yaml(loaded.spec), nl=False)
