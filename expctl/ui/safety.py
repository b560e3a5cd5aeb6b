"""What the dashboard lets a request reach: run directories inside DIR, with the token, by name.

A run is asked for by its id, the name of a directory directly inside DIR (as `find_runs` lists
them) or inside a folder of runs below DIR (a sweep's trials), named by its directory names. Anything else is refused before a file is opened: a separator, `..`, an absolute path, a
hidden or empty name, a symbolic link (even one pointing inside DIR), a directory that is not
a run, or a run with a file that is a symbolic link out of DIR. A server bound to another address than loopback asks every request for a token; it is
compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path

from expctl.runs.view import looks_like_run

#: Host names that reach this machine only.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: Longest run id or folder name accepted (a run id is `YYYYmmdd-HHMMSS-<name>-<6 hex>`).
MAX_ID_LENGTH = 255
#: How deep a folder of runs may be below DIR (`<study>/trials` is 2).
MAX_FOLDER_DEPTH = 3


class Refused(ValueError):
    """A request for something outside what the dashboard serves; `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


def _name(text: str, what: str) -> str:
    """One directory name as a request gives it; Refused (400) for anything that is not."""
    if not text or len(text) > MAX_ID_LENGTH:
        raise Refused(f"a {what} is the name of a directory in DIR", 400)
    if any(c in text for c in "/\\\x00") or text.startswith(".") or Path(text).is_absolute():
        raise Refused(f"{text!r}: not a {what} (a directory's own name, inside DIR)", 400)
    return text


def folder_path(root: Path, folder: str | None) -> Path:
    """The folder of runs `folder` (`sweep/trials`: names joined by `/`) inside `root`, or `root`
    itself for None or ""; Refused for a name that is not a directory of DIR, a link, or deeper
    than MAX_FOLDER_DEPTH. `root` must be absolute and resolved."""
    if not folder:
        return root
    parts = folder.split("/")
    if len(parts) > MAX_FOLDER_DEPTH:
        raise Refused(f"{folder!r}: at most {MAX_FOLDER_DEPTH} folders deep", 400)
    path = root
    for part in parts:
        path = path / _name(part, "folder")
        if path.is_symlink():
            raise Refused(f"{folder!r}: {part!r} is a symbolic link; DIR's own folders only", 403)
        if not path.is_dir():
            raise Refused(f"no folder {folder!r} in DIR", 404)
    if not path.resolve().is_relative_to(root):  # the last defence
        raise Refused(f"{folder!r}: outside DIR", 403)
    return path


def run_path(root: Path, run_id: str, folder: str | None = None) -> Path:
    """The run directory `run_id` directly inside `root` (or inside its `folder`, see
    `folder_path`); Refused for anything else. `root` must be absolute and resolved (the server
    resolves DIR once at start)."""
    base = folder_path(root, folder)
    path = base / _name(run_id, "run id")
    if path.is_symlink():
        raise Refused(f"{run_id!r}: a symbolic link; the dashboard serves DIR's own runs only", 403)
    if path.resolve().parent != base.resolve():  # the last defence: whatever the name, stay
        raise Refused(f"{run_id!r}: outside DIR", 403)
    if not path.is_dir() or not looks_like_run(path):
        raise Refused(f"no run {run_id!r} in {'DIR' if base == root else repr(folder)}", 404)
    outside = links_out(root, path)
    if outside:
        raise Refused(f"{run_id!r}: {outside[0]} is a symbolic link out of DIR", 403)
    return path


def run_folders(root: Path) -> list[str]:
    """The folders below `root`, down to MAX_FOLDER_DEPTH, that hold runs but are not runs
    themselves (a sweep's `trials`, a folder of grouped studies), as `folder_path` takes them.

    Links, hidden entries and runs are not entered; each folder is listed once.
    """
    import os

    found: list[str] = []

    def holds_runs(path: Path) -> bool:
        with os.scandir(path) as entries:
            return any(
                e.is_dir(follow_symlinks=False) and looks_like_run(Path(e.path)) for e in entries
            )

    def walk(path: Path, parts: list[str]) -> None:
        if len(parts) >= MAX_FOLDER_DEPTH:
            return
        try:
            with os.scandir(path) as entries:
                subdirs = sorted(
                    e.name
                    for e in entries
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            return
        for name in subdirs:
            child = path / name
            if looks_like_run(child):
                continue
            try:
                if holds_runs(child):
                    found.append("/".join([*parts, name]))
            except OSError:
                continue
            walk(child, [*parts, name])

    walk(root, [])
    return found


def links_out(root: Path, run_dir: Path) -> list[str]:
    """The names of the entries of `run_dir` that are symbolic links leading outside `root`.

    A run's files are read by name (`RunView`), and opening a name follows a link: a run whose
    metrics.json links to a file elsewhere would show that file. One directory listing per run.
    """
    import os

    out = []
    try:
        with os.scandir(run_dir) as entries:
            for entry in entries:
                if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(root):
                    out.append(entry.name)
    except OSError:
        return []
    return sorted(out)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name, IPv6 with or without brackets) is this machine only."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host name of a Host header (`127.0.0.1:8765` -> `127.0.0.1`, `[::1]:80` -> `::1`)."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def new_token() -> str:
    """A fresh access token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, expected: str) -> bool:
    """Whether `given` is the token, compared in constant time (hmac.compare_digest)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


__all__ = [
    "LOOPBACK_NAMES",
    "MAX_FOLDER_DEPTH",
    "MAX_ID_LENGTH",
    "Refused",
    "folder_path",
    "host_of",
    "is_loopback",
    "links_out",
    "new_token",
    "run_folders",
    "run_path",
    "token_matches",
]
