"""Starter specs written by `expctl init` (YAML files, read with importlib.resources)."""
