"""expctl: a command-line experiment runner for studying how deep networks are trained.

Importing this package is cheap: it loads no TensorFlow, Keras or matplotlib.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
