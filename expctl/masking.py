"""Passwords in URLs are never shown: `postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`.

A storage URL (`expctl sweep --storage`, `EXPCTL_STORAGE`) or an MLflow tracking URI
(`--mlflow`, `tracking.mlflow`) may carry a password; every line expctl prints or records that
could hold one (the sweep's header, error messages, the argv in environment.json, the resolved
spec in spec.yaml, sweep.yaml and best.yaml, MLflow params and logs) goes through `mask` or
`mask_data`. A URL read back from such a file has `***` for its password: `is_masked` tells, and
`with_password` puts the real one back (taken from the environment by the caller). A leaf
module: it imports nothing of expctl.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

#: `scheme://user:password@`: the password is what lies between the first ':' after the user
#: name and the '@' that ends the user information (RFC 3986; a literal '@' in it is %40).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?=@)")

MASK = "***"


def mask(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (user and host are kept)."""
    return _USERINFO.sub(lambda m: m["head"] + MASK, text)


def mask_all(items: Iterable[str]) -> list[str]:
    """`mask` of each item (e.g. a command line's arguments)."""
    return [mask(str(item)) for item in items]


def mask_data(data: Any) -> Any:
    """A copy of plain data (dicts, lists, tuples of strings, numbers, ...) with every string
    masked; keys are kept as they are."""
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {key: mask_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(mask_data(value) for value in data)
    return data


def is_masked(url: str) -> bool:
    """Whether `url`'s password is the mask `***`: the URL was read back from a file expctl wrote
    (spec.yaml, best.yaml) or copied from its output, and its real password is elsewhere."""
    found = _USERINFO.match(url.strip())
    return found is not None and found["password"] == MASK


def with_password(url: str, password: str | None) -> str:
    """`url` with its password replaced by `password` (percent-encoded), or without a password
    (the user name kept) when `password` is None, so the driver looks for it (PGPASSWORD,
    ~/.pgpass). A URL without a password is returned unchanged."""
    found = _USERINFO.match(url.strip())
    if found is None:
        return url
    head = found["head"] if password is not None else found["head"][:-1]
    secret = quote(password, safe="") if password is not None else ""
    return head + secret + url.strip()[found.end() :]


def connectable(url: str, password: str | None = None) -> str | None:
    """The URL to connect with, `***` never sent as a password: `url` itself when its password is
    not the mask; else with `password` when one is given (from the environment); else, for
    PostgreSQL, without a password (the driver reads PGPASSWORD or ~/.pgpass); else None (the
    caller refuses it, saying where the password can come from)."""
    if not is_masked(url):
        return url
    if password:
        return with_password(url, password)
    if url.strip().startswith("postgresql"):
        return with_password(url, None)
    return None


__all__ = ["MASK", "connectable", "is_masked", "mask", "mask_all", "mask_data", "with_password"]
