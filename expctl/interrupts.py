"""SIGINT and SIGTERM during a run: `Interrupted` raised at a point where it is safe.

A Python signal handler runs between two bytecodes of the main thread, anywhere: raising from it
inside TensorFlow's own context managers (a device scope half entered or half left) corrupts
TensorFlow's state, and the clean-up that follows (writing the last checkpoint) then fails with
"Exiting device scope without proper scope nesting"; raised inside matplotlib's drawing, it can be
replaced by a ValueError from a half-done layout. Either way the run ended `failed`, not
`interrupted`. So while a run trains, evaluates, saves and draws (`deferred()`), the handler only
records the signal, and `check()` raises it at the next safe point: a Keras callback between two
compiled calls (`expctl.training.callbacks.InterruptPoints`), between two figures, or the end of
the deferred block. Outside such blocks (data preparation, before the run directory exists) the
handler raises at once.

A process started in the background by a shell has SIGINT ignored, and SIGTERM would kill Python
without clean-up: with these handlers both end the run as `interrupted`. Later signals are ignored
while that clean-up writes the status.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from expctl.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    def __init__(self) -> None:
        self.received: int | None = None
        self.raised = False
        self.deferring = 0

    def raise_once(self) -> None:
        if self.received is not None and not self.raised:
            self.raised = True
            raise Interrupted(self.received)


_active: _State | None = None


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the SIGINT/SIGTERM handlers for the block (main thread only; else a no-op)."""
    global _active
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _State()

    def handler(signum: int, frame: Any) -> None:
        if state.received is not None:
            return
        state.received = signum
        if not state.deferring:
            state.raise_once()

    outer = _active
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    _active = state
    try:
        yield
    finally:
        _active = outer
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal that arrives in the block until `check()` or the block's end."""
    state = _active
    if state is None:
        yield
        return
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    state.raise_once()  # reached only when the block ended without an exception


def check() -> None:
    """Raise `Interrupted` if a signal arrived and was held; a safe point to stop at."""
    state = _active
    if state is not None:
        state.raise_once()
