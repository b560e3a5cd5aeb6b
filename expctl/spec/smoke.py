"""Smoke mode: the same spec, shrunk to seconds (tiny data, one epoch, small batches).

CI uses it to check that a spec still runs end to end through the very same code path, without
paying for the real training. The shrinking is a list of `--set`-style overrides, applied and
validated like any other, so the resolved spec in the run directory says exactly what ran.
"""

from __future__ import annotations

from typing import Any

#: Events a smoke run draws, by data source (enough for a stratified three-way split).
SMOKE_EVENTS: dict[str, int] = {"digits": 300, "mnist": 300, "jet_images": 200}
DEFAULT_SMOKE_EVENTS = 400
SMOKE_BATCH = 32


def smoke_overrides(spec: Any) -> list[str]:
    """Overrides that shrink a validated spec to a smoke run (one epoch, tiny data)."""
    out = ["train.epochs=1", f"train.batch_size={min(spec.train.batch_size, SMOKE_BATCH)}"]
    data = spec.data
    if "n_samples" in type(data).model_fields:
        events = SMOKE_EVENTS.get(data.source, DEFAULT_SMOKE_EVENTS)
        if data.n_samples is None or data.n_samples > events:
            out.append(f"data.n_samples={events}")
    train = spec.train
    if train.pruning is not None:
        out += ["train.pruning.start_epoch=0", "train.pruning.end_epoch=1"]
    if train.early_stopping is not None and train.early_stopping.start_from_epoch:
        out.append("train.early_stopping.start_from_epoch=0")
    if getattr(train.schedule, "warmup_epochs", 0):
        out.append("train.schedule.warmup_epochs=0")
    return out
