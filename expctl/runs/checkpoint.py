"""Run checkpoints on disk: the latest one, the one before it, and the best weights (no Keras).

`<run>/checkpoints/` holds

    latest.keras   + state.json     the last checkpointed epoch (model with optimizer state)
    previous.keras + previous.json  the checkpoint before it
    best-NNNN.keras                 EarlyStopping's best weights (epoch NNNN), when kept

Each state file names the epoch, the history rows so far, the callbacks' state and the sha256
of its model file; a model file is used only if its sha256 is the recorded one. A new checkpoint
is written as: model to a temporary name (fsynced), latest → previous (model, then state), the
new model → latest, then state.json (atomically). Whatever point a crash stops this at, at
least one (state, model) pair matches by checksum, and `read_checkpoint` finds the newest one.
During a run, SIGINT and SIGTERM are held back while a checkpoint is written
(`expctl.interrupts.deferred`), so a signal never leaves one half-done.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl import interrupts
from expctl.runs.atomic import atomic_save, atomic_write_json, fsync_dir, read_json

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest.keras"
PREVIOUS = "previous.keras"
STATE = "state.json"
PREVIOUS_STATE = "previous.json"
#: Format of state.json; a reader refuses other versions.
STATE_VERSION = 1

Warn = Callable[[str], None]


@dataclass(frozen=True)
class CheckpointPolicy:
    """When a run writes a checkpoint to disk at an epoch's end: every `epochs` epochs, or once
    `seconds` have passed since the last one; neither: never. (A run interrupted by SIGINT or
    SIGTERM, and a run that ends, also write their last completed epoch, when not yet written.)
    """

    epochs: int = 0
    seconds: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.epochs > 0 or self.seconds > 0

    @classmethod
    def parse(cls, text: str | int) -> CheckpointPolicy:
        """`N` (epochs), `Ns`, `Nm`, `Nh` (time), or `0` (never); ValueError otherwise."""
        value = str(text).strip().lower()
        units = {"s": 1.0, "m": 60.0, "h": 3600.0}
        try:
            if value[-1:] in units:
                seconds = float(value[:-1]) * units[value[-1]]
                if not (seconds >= 0 and seconds < float("inf")):
                    raise ValueError
                return cls(seconds=seconds)
            epochs = int(value)
            if epochs < 0:
                raise ValueError
            return cls(epochs=epochs)
        except (ValueError, IndexError):
            raise ValueError(
                f"{text!r}: give a number of epochs (1), a time (30s, 5m, 1h) or 0 for never"
            ) from None

    def __str__(self) -> str:
        if self.seconds > 0:
            return f"{self.seconds:g}s"
        return str(self.epochs)


#: The default: cheap (a quickstart run writes only its final checkpoint) and at most ~10 s of
#: training lost to a SIGKILL; SIGINT and SIGTERM lose nothing (the last epoch is written then).
DEFAULT_POLICY = CheckpointPolicy(seconds=10.0)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def best_name(epoch: int) -> str:
    """The file name of the best weights taken at (1-based) `epoch`."""
    return f"best-{epoch:04d}.keras"


def write_checkpoint(
    run_path: Path,
    state: dict[str, Any],
    save_model: Callable[[Path], None],
    best_is_current: bool = False,
) -> dict[str, Any]:
    """Write the checkpoint of `state["epoch"]`; `save_model(path)` writes the model file.

    `best_is_current`: EarlyStopping's best weights are this epoch's, so the model file is also
    linked to `best-NNNN.keras`; otherwise `state["best_weights"]` (if any) names a best file
    written before. Best files that neither state file names are removed afterwards. Returns
    the state as written (with `model_sha256` and, when current, `best_weights`).
    """
    folder = Path(run_path) / CHECKPOINT_DIR
    epoch = int(state["epoch"])
    with interrupts.deferred():
        folder.mkdir(exist_ok=True)
        tmp = folder / f".next.tmp-{secrets.token_hex(4)}.keras"
        try:
            save_model(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            checksum = sha256_file(tmp)
            state = {**state, "version": STATE_VERSION, "model": LATEST, "model_sha256": checksum}
            if best_is_current:
                _link_or_copy(tmp, folder / best_name(epoch))
                state["best_weights"] = {
                    "epoch": epoch,
                    "file": best_name(epoch),
                    "sha256": checksum,
                }
            latest, current = folder / LATEST, folder / STATE
            if latest.exists():
                os.replace(latest, folder / PREVIOUS)
            if current.exists():
                os.replace(current, folder / PREVIOUS_STATE)
            os.replace(tmp, latest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(folder)
        atomic_write_json(current, state)
        _remove_unreferenced_best(folder)
    return state


def write_best(run_path: Path, epoch: int, save_model: Callable[[Path], None]) -> dict[str, Any]:
    """Save best weights taken at an epoch that is not checkpointed; what state files record."""
    folder = Path(run_path) / CHECKPOINT_DIR
    with interrupts.deferred():
        folder.mkdir(exist_ok=True)
        target = folder / best_name(epoch)
        atomic_save(target, save_model)
    return {"epoch": int(epoch), "file": target.name, "sha256": sha256_file(target)}


def _link_or_copy(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source` atomically (a hard link when the file system allows)."""
    tmp = target.with_name(f".{target.stem}.tmp-{secrets.token_hex(4)}{target.suffix}")
    try:
        try:
            os.link(source, tmp)
        except OSError:
            tmp.write_bytes(source.read_bytes())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_unreferenced_best(folder: Path) -> None:
    keep = set()
    for name in (STATE, PREVIOUS_STATE):
        try:
            best = (read_json(folder / name).get("best_weights") or {}).get("file")
        except (ValueError, AttributeError):
            continue
        if best:
            keep.add(best)
    for path in folder.glob("best-*.keras"):
        if path.name not in keep:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Checkpoint:
    """A usable checkpoint: its state and the model file whose checksum matches it."""

    state: dict[str, Any]
    model_path: Path
    #: the best weights' file (checksum checked), or None
    best_path: Path | None
    #: state file it came from (state.json or previous.json)
    source: str


def remove_leftovers(run_path: Path) -> list[Path]:
    """Delete the temporary files a killed process left in checkpoints/ (a write cut short by
    SIGKILL or a power loss; never part of an intact checkpoint). Returns what was deleted."""
    folder = Path(run_path) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    leftovers = sorted(p for p in folder.glob(".*.tmp-*") if p.is_file() and not p.is_symlink())
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def candidates(run_path: Path, warn: Warn) -> list[Checkpoint]:
    """Every intact checkpoint of a run, newest epoch first; a damaged one is named in `warn`.

    A state file is damaged when it cannot be read, is of another version, or no model file
    has its model checksum (a truncated or overwritten model, or a write cut short).
    """
    folder = Path(run_path) / CHECKPOINT_DIR
    models = {}
    for name in (LATEST, PREVIOUS):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            models[name] = path
    sums: dict[str, str] = {}

    def checksum(name: str) -> str | None:
        if name not in sums and name in models:
            try:
                sums[name] = sha256_file(models[name])
            except OSError:
                return None
        return sums.get(name)

    found: list[Checkpoint] = []
    for state_name in (STATE, PREVIOUS_STATE):
        path = folder / state_name
        if not path.exists():
            continue
        try:
            state = read_json(path)
        except ValueError as exc:
            warn(f"{path}: unreadable checkpoint state ({exc}); skipped")
            continue
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            warn(f"{path}: not a checkpoint state of version {STATE_VERSION}; skipped")
            continue
        wanted = state.get("model_sha256")
        model = next((name for name in models if checksum(name) == wanted), None)
        if model is None:
            warn(
                f"{folder / state.get('model', LATEST)}: corrupt or missing (its sha256 is not "
                f"the one {state_name} recorded for epoch {state.get('epoch')}); skipped"
            )
            continue
        best_path = None
        best = state.get("best_weights")
        if isinstance(best, dict) and best.get("file"):
            candidate = folder / os.path.basename(str(best["file"]))
            if not candidate.is_file() or sha256_file(candidate) != best.get("sha256"):
                warn(f"{candidate}: corrupt or missing best weights; checkpoint skipped")
                continue
            best_path = candidate
        found.append(Checkpoint(state, models[model], best_path, state_name))
    found.sort(key=lambda c: -int(c.state.get("epoch", 0)))
    return found


def read_state(run_path: Path) -> dict[str, Any] | None:
    """The newest readable state file of a run (checksums not checked), or None."""
    folder = Path(run_path) / CHECKPOINT_DIR
    for name in (STATE, PREVIOUS_STATE):
        try:
            state = read_json(folder / name)
        except ValueError:
            continue
        if isinstance(state, dict) and state.get("version") == STATE_VERSION:
            return state
    return None


__all__ = [
    "CHECKPOINT_DIR",
    "DEFAULT_POLICY",
    "Checkpoint",
    "CheckpointPolicy",
    "best_name",
    "candidates",
    "read_state",
    "remove_leftovers",
    "sha256_file",
    "write_best",
    "write_checkpoint",
]
