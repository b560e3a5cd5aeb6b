"""Bias/variance experiments: K members per point on bootstrap resamples, their test error split.

The formulas are in `expctl.evaluation.biasvar` (numpy only); this package plans the points,
trains the members (in worker processes with `workers` > 1) and writes the directory.
"""

from __future__ import annotations

from expctl.biasvar.experiment import (
    KIND,
    BiasvarOutcome,
    parse_scan,
    parse_train_sizes,
    run_biasvar,
)

__all__ = ["KIND", "BiasvarOutcome", "parse_scan", "parse_train_sizes", "run_biasvar"]
