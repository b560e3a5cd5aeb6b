"""Passwords in URLs are never shown: `postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`.

A storage URL (`expctl sweep --storage`) or an MLflow tracking URI may carry a password; every
line expctl prints or records that could hold one (the sweep's header, error messages, the argv
in environment.json) goes through `mask`. A leaf module: it imports nothing of expctl.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


__all__ = ["MASK", "mask", "mask_all"]
