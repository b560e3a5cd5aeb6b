"""Progress text: a bar with an estimated time left (sweeps, biasvar members), a line per epoch.

One line per finished item (no terminal control codes), so it reads the same in a terminal, a
log file and CI: `[#######-------------] 7/20  0:42 elapsed, ~1:18 left`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Items done out of `total`; the time left is the mean time per item so far, times the rest.

    `started` (default: now, from `clock`) lets a resumed job count only what it did itself:
    give `done` at the start as `already`.
    """

    def __init__(
        self,
        total: int,
        already: int = 0,
        width: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 1)
        self.already = already
        self.width = width
        self.clock = clock
        self.started = clock()

    def line(self, done: int) -> str:
        """The bar for `done` items finished (of `total`, those before the start included)."""
        done = min(done, self.total)
        filled = round(self.width * done / self.total)
        elapsed = self.clock() - self.started
        bar = f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{self.total}"
        mine = done - self.already
        if mine <= 0:
            return f"{bar}  {_clock(elapsed)} elapsed"
        left = elapsed / mine * (self.total - done)
        tail = "done" if done >= self.total else f"~{_clock(left)} left"
        return f"{bar}  {_clock(elapsed)} elapsed, {tail}"


def progress_line(row: dict[str, float], epochs: int) -> str:
    """One line per epoch: the losses, the main validation metrics, the learning rate, the time."""
    width = len(str(epochs))
    parts = [f"epoch {int(row['epoch']):>{width}}/{epochs}"]
    main = ("loss", "val_loss", "accuracy", "val_accuracy", "val_auc", "val_mae")
    heads = [
        k
        for k in row
        if k.startswith("val_") and k.endswith(("_accuracy", "_auc", "_mae")) and k not in main
    ]
    for key in (*main, *heads):
        if key in row:
            parts.append(f"{key} {row[key]:.4f}")
    if "sparsity" in row:
        parts.append(f"sparsity {row['sparsity']:.3f}")
    parts.append(f"lr {row['learning_rate']:.2e}")
    parts.append(f"{row['epoch_time_s']:.1f}s")
    return "  ".join(parts)


__all__ = ["Progress", "progress_line"]
