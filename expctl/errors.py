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
