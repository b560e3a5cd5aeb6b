"""`expctl schema`: print the spec's JSON Schema (for editors and other tools)."""

from __future__ import annotations

import json

import click


@click.command()
def schema() -> None:
    """Print the JSON Schema of a spec file (draft 2020-12; sweep specs' `sweep:` included).

    Editors with the YAML language server complete and check spec keys when the file starts
    with `# yaml-language-server: $schema=PATH/expctl.schema.json`; the repository keeps a copy
    in docs/expctl.schema.json (`expctl schema > docs/expctl.schema.json` refreshes it).
    """
    from expctl.spec.jsonschema import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=False))
