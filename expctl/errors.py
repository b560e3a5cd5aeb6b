"""Errors that expctl reports to users; each knows its process exit code.

Bad input (spec, arguments, data files) exits 2 and is raised before anything is written;
a run that started and then failed exits 1.
"""

from __future__ import annotations


class ExpctlError(Exception):
    """Base class: a message meant for the user, shown without a traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInputError(ExpctlError):
    """Anything the user gave us that we refuse: exit code 2, nothing written."""

    exit_code = 2


class SpecError(BadInputError):
    """The spec (file or --set overrides) does not validate."""


class DataError(BadInputError):
    """A data source cannot be read or does not fit the spec."""


class RunNotFoundError(BadInputError):
    """A run id or path names no run directory."""


class RunFailedError(ExpctlError):
    """A run started but ended failed or diverged: exit code 1."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a run: exit code 128 + the signal number (130, 143).

    A KeyboardInterrupt (so a BaseException): library code that catches Exception does not
    swallow it, and the run's clean-up records the run as `interrupted`.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.signal_name}")


def did_you_mean(word: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` when one of `choices` is close to `word`, else "": for messages
    naming an unknown key, column, array or scheme."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
