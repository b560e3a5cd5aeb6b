"""expctl's version: a leaf module every layer may import (the package root is the API facade)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
