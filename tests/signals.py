"""Signalling a training subprocess mid-run without racing its end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def signal_mid_run(proc: subprocess.Popen, run: Path, sig: int, epochs: int) -> None:
    """Send `sig` to the `expctl run` process `proc` while its run `run` is surely mid-training.

    The process is frozen (SIGSTOP) while the run's status and history are read, so it cannot
    finish between the look and the signal, and at least one of its `epochs` epochs is still to
    come after the one under way (a signal is acted on at the next safe point, which can be the
    end of the current epoch). Fails the test, saying so, if the run got too far first.
    """
    with frozen(proc.pid):
        status = json.loads((run / "status.json").read_text())["status"]
        done = len((run / "history.csv").read_text().splitlines()) - 1
        if status != "running" or done > epochs - 2:
            pytest.fail(f"the run was {status} at epoch {done} of {epochs} when it was signalled")
        proc.send_signal(sig)


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process `pid` stopped (SIGSTOP) inside the block: what it has written cannot change
    while the block looks; continued after (if a signal sent meanwhile did not end it)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
