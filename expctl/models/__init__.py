"""spec -> keras.Model: trunks, regularisers, heads (imports Keras when called, not on import)."""

from __future__ import annotations

from expctl.models.build import HEADS, INITIALIZERS, TRUNKS, build_model
from expctl.models.io import load_model

__all__ = ["HEADS", "INITIALIZERS", "TRUNKS", "build_model", "load_model"]
