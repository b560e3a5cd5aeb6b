"""A text progress bar with an estimated time left, for sweeps and biasvar members.

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
