"""Turn what a user types (a run id, an id prefix, a path) into run directories (no TensorFlow).

A run id is looked up directly inside the output directory and never leaves it: an id holding a
path separator, `..` or a NUL byte is not an id, and an entry of the output directory that is a
symbolic link leading outside it is refused. A path (anything with a separator) may name a run
directory anywhere; what it names must be one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from expctl.errors import RunNotFoundError
from expctl.runs.view import is_run_dir, looks_like_run

#: What every refusal says a run directory is.
RUN_DIR_HINT = "a run directory holds status.json and spec.yaml"

#: At most this many candidates are named in an "ambiguous prefix" message.
MAX_CANDIDATES_SHOWN = 10

Warn = Callable[[str], None]

_SEPARATORS = tuple(s for s in (os.sep, os.altsep, "/") if s)


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _has_separator(ref: str) -> bool:
    return any(sep in ref for sep in _SEPARATORS)


def _check_ref(ref: str) -> None:
    """Refuse what is neither an id nor a path: empty, NUL bytes, `..` without a separator."""
    if not ref:
        raise RunNotFoundError("an empty string names no run")
    if "\0" in ref:
        raise RunNotFoundError(f"{ref!r}: a run id or path cannot contain a NUL byte")
    if not _has_separator(ref) and ".." in ref:
        raise RunNotFoundError(
            f"{ref!r} is not a run id (ids contain no '..'); give a path such as ./{ref} instead"
        )


def _absolute(path: Path) -> Path:
    """`path` made absolute with `.` and `..` removed, without following symbolic links."""
    return Path(os.path.abspath(path))


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every symbolic link followed, is `folder` or lies under it."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop, a permission problem
        return False


def _run_dir_at(path: Path, ref: str) -> Path:
    """`path` if it is a run directory; RunNotFoundError naming it otherwise."""
    if is_run_dir(path):
        return _absolute(path)
    if not path.exists():
        raise RunNotFoundError(f"{ref}: no such directory ({RUN_DIR_HINT})")
    if not path.is_dir():
        raise RunNotFoundError(f"{ref}: not a directory ({RUN_DIR_HINT})")
    raise RunNotFoundError(f"{ref}: not a run directory ({RUN_DIR_HINT})")


def _lookup_id(ref: str, output_dir: Path, any_dir: bool = False) -> Path | None:
    """The run of `output_dir` whose id is `ref` or starts with it; None if no entry matches.

    An exact name wins over prefixes (and, with `any_dir`, may be any directory: a folder of runs
    or a partial run). RunNotFoundError if the prefix is ambiguous, or if the entry found is a
    symbolic link leading outside `output_dir` or is not a run directory.
    """
    if ref.startswith(".") or not output_dir.is_dir():
        return None  # hidden entries are never runs; "." is the current folder
    exact = output_dir / ref
    if exact.is_symlink() or exact.is_dir():
        return _checked_entry(exact, ref, output_dir, any_dir)
    candidates = []
    for entry in output_dir.iterdir():
        name = entry.name
        if name.startswith(".") or not name.startswith(ref):
            continue
        if entry.is_symlink() or is_run_dir(entry):
            candidates.append(entry)
    if not candidates:
        return None
    if len(candidates) > 1:
        names = sorted(c.name for c in candidates)
        shown = "\n  ".join(names[:MAX_CANDIDATES_SHOWN])
        more = len(names) - MAX_CANDIDATES_SHOWN
        raise RunNotFoundError(
            f"run id prefix {ref!r} is ambiguous in {output_dir}; it matches {len(names)} runs:\n  "
            + shown
            + (f"\n  ... and {more} more" if more > 0 else "")
        )
    return _checked_entry(candidates[0], ref, output_dir)


def _checked_entry(entry: Path, ref: str, output_dir: Path, any_dir: bool = False) -> Path:
    """`entry` made absolute, unless it leads outside `output_dir` or is not a run directory."""
    if entry.is_symlink() and not _inside(entry, output_dir):
        raise RunNotFoundError(
            f"{entry}: is a symbolic link leading outside {output_dir}; refusing to follow it "
            "for a run id (give its path instead)"
        )
    if not is_run_dir(entry) and not (any_dir and entry.is_dir()):
        raise RunNotFoundError(f"{entry} (run id {ref!r}): not a run directory ({RUN_DIR_HINT})")
    return _absolute(entry)


def resolve_run(ref: str, output_dir: Path) -> Path:
    """The run directory (as an absolute path) named by a run id, a unique id prefix, or a path.

    A `ref` with a path separator is a path and must name a run directory (anywhere). Otherwise it
    is looked up as an id in `output_dir` first, then as a run directory in the current folder.
    Raises RunNotFoundError (exit code 2) with the reason when nothing fits.
    """
    _check_ref(ref)
    output_dir = Path(output_dir)
    if _has_separator(ref):
        return _run_dir_at(Path(ref), ref)
    found = _lookup_id(ref, output_dir)
    if found is not None:
        return found
    if is_run_dir(Path(ref)):
        return _absolute(Path(ref))
    where = (
        f"in {output_dir}"
        if output_dir.is_dir()
        else f"(output directory {output_dir} does not exist)"
    )
    raise RunNotFoundError(
        f"no run {ref!r} {where}; give a run id, a unique prefix of one, or the path of a run "
        f"directory ({RUN_DIR_HINT})"
    )


def _runs_in(folder: Path, ref: str, warn: Warn) -> list[Path]:
    """The (possibly partial) run directories directly inside `folder`, sorted by name.

    Symbolic links are skipped with a warning, hidden entries and files silently; other
    directories are skipped with a warning, unless there is no run at all (then `folder` is not
    a folder of runs and RunNotFoundError says so).
    """
    runs: list[Path] = []
    skipped: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            skipped.append(
                f"{entry}: skipped: a symbolic link (links are not followed in a folder of runs)"
            )
        elif not entry.is_dir():
            continue
        elif looks_like_run(entry):
            runs.append(entry)
        else:
            skipped.append(f"{entry}: skipped: not a run directory ({RUN_DIR_HINT})")
    if not runs:
        raise RunNotFoundError(
            f"{ref}: not a run directory and holds no run directories ({RUN_DIR_HINT})"
        )
    for message in skipped:
        warn(message)
    return runs


def resolve_runs(refs: Iterable[str], output_dir: Path, warn: Warn | None = None) -> list[Path]:
    """Run directories for several refs; a ref may also be a folder of runs such as `outputs/`.

    Each ref is resolved as in `resolve_run`, except that an existing directory that is not a run
    directory is expanded into the run directories directly inside it (partial ones included:
    reading them is the caller's job). Paths are absolute, each directory comes once. Symbolic links inside such a folder are skipped, each with a
    call to `warn` (default: a line on stderr).
    """
    warn = warn or _stderr_warning
    output_dir = Path(output_dir)
    found: list[Path] = []
    for ref in refs:
        _check_ref(ref)
        if _has_separator(ref):
            path = Path(ref)
        else:
            by_id = _lookup_id(ref, output_dir, any_dir=True)
            path = by_id if by_id is not None else Path(ref)
        if is_run_dir(path) or (path.is_dir() and looks_like_run(path)):
            found.append(path)
        elif path.is_dir():
            found.extend(_runs_in(path, ref, warn))
        elif _has_separator(ref):
            _run_dir_at(path, ref)  # raises, saying why
        else:
            raise RunNotFoundError(
                f"no run {ref!r} in {output_dir} and no directory {ref!r} here; give a run id, a "
                f"unique prefix of one, a run directory or a folder of runs ({RUN_DIR_HINT})"
            )
    return list(dict.fromkeys(_absolute(path) for path in found))
