"""`expctl ui FOLDER --port 0` in a subprocess, for the dashboard's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_ui(folder: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """The server process and the URL it printed (`open http://127.0.0.1:PORT/`); the caller
    terminates the process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "expctl", "ui", str(folder), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    url = next((line.split()[1] for line in lines if line.startswith("open ")), None)
    if url is None:
        process.terminate()
        raise AssertionError(f"expctl ui did not start: {lines}")
    return process, url
