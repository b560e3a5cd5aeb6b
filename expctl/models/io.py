"""Load a run's model.keras: safe mode only, with expctl's own layers registered first."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(path: str | Path) -> Any:
    """keras.saving.load_model in safe mode (no Lambda layers, no arbitrary code), expctl layers known."""
    import keras

    import expctl.models.regularizers  # noqa: F401  (registers NoisyDense, ClipWeights, ...)

    return keras.saving.load_model(Path(path), safe_mode=True)
