"""The JSON Schema of a spec file, for editors (yaml-language-server) and `expctl schema`.

It is the pydantic schema of `Spec`, plus the optional `sweep:` block that sweep specs add, so one
schema completes and checks every file under experiments/. The committed copy is
docs/expctl.schema.json (a test keeps it equal to this).
"""

from __future__ import annotations

from typing import Any

#: Where the committed copy lives, relative to the repository root.
SCHEMA_FILE = "docs/expctl.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema() -> dict[str, Any]:
    """The spec file's JSON Schema (draft 2020-12), `sweep:` included as an optional block."""
    from expctl.spec.schema import Spec
    from expctl.spec.sweep import SweepSpec

    schema = Spec.model_json_schema()
    sweep = SweepSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(sweep.pop("$defs", {}))
    defs["SweepSpec"] = sweep
    schema["properties"]["sweep"] = {
        "$ref": "#/$defs/SweepSpec",
        "description": "only in sweep specs (`expctl sweep`): the search over spec keys",
    }
    return {
        "$schema": DIALECT,
        "title": "expctl experiment spec",
        **{k: v for k, v in schema.items() if k != "title"},
    }
