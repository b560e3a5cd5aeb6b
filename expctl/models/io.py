"""Load a run's model.keras: checked first, then loaded in safe mode with expctl's layers known.

Keras' safe mode refuses Lambda layers, but crafted configs have bypassed it before (a config
naming any importable function, e.g. CVE-2025-1550). So before Keras reads the file, its
config.json is walked and every serialized object must come from Keras or expctl, every
serialized function from Keras' activation/loss/metric/initializer modules, and nothing may be
a Lambda. Legacy HDF5 models (.h5) are refused: they are not covered by safe mode at all.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError

#: Modules a serialized object of a model.keras may come from.
ALLOWED_MODULES = ("keras", "expctl.")
#: Modules a serialized *function* (class_name "function") may come from.
FUNCTION_MODULES = (
    "keras.activations",
    "keras.losses",
    "keras.metrics",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
)
REFUSED_CLASSES = ("Lambda", "TFOpLambda", "__lambda__")
#: A config.json bigger than this is not a model expctl wrote.
MAX_CONFIG_BYTES = 50_000_000


class ModelRefusedError(BadInputError):
    """A model file expctl will not load (exit 2)."""


def _refuse(path: Path, why: str) -> ModelRefusedError:
    return ModelRefusedError(f"{path}: refused to load the model: {why}")


def _walk(node: Any, path: Path, where: str = "config") -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, path, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    class_name = node.get("class_name")
    if class_name in REFUSED_CLASSES:
        raise _refuse(path, f"{where} is a {class_name} layer (arbitrary Python code)")
    module = node.get("module")
    if isinstance(module, str):
        if not (module == "keras" or module.startswith(ALLOWED_MODULES)):
            raise _refuse(path, f"{where} comes from module {module!r}; only keras and expctl")
        if class_name == "function" and not module.startswith(FUNCTION_MODULES):
            raise _refuse(
                path, f"{where} names the function {node.get('config')!r} of module {module!r}"
            )
    for key, value in node.items():
        _walk(value, path, f"{where}.{key}")


def check_model_file(path: str | Path) -> Path:
    """Refuse (ModelRefusedError, exit 2) a model file that is not a plain, safe .keras archive."""
    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise _refuse(path, "legacy HDF5 models are not loaded (no safe mode); use .keras")
    if path.suffix.lower() != ".keras":
        raise _refuse(path, "not a .keras file")
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                raise _refuse(path, f"config.json declares {info.file_size:,} bytes")
            config = json.loads(archive.read(info))
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise _refuse(path, f"not a readable .keras archive ({exc})") from None
    _walk(config, path)
    return path


def load_model(path: str | Path) -> Any:
    """keras.saving.load_model in safe mode (no Lambda layers, no arbitrary code), expctl layers known."""
    import keras

    import expctl.models.regularizers  # noqa: F401  (registers NoisyDense, ClipWeights, ...)

    path = check_model_file(path)
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except ValueError as exc:  # what safe mode raises for what it refuses
        raise _refuse(path, str(exc).splitlines()[0]) from None
