"""The experiment spec: schema, safe YAML loading with line numbers, --set overrides."""

from __future__ import annotations

from expctl.spec.load import LoadedSpec, load_spec, resolved_dict, resolved_yaml, spec_from_dict
from expctl.spec.schema import Spec

__all__ = ["LoadedSpec", "Spec", "load_spec", "resolved_dict", "resolved_yaml", "spec_from_dict"]
