"""Checkpoints during `fit` and what a resumed `fit` restores from one.

`Checkpointer` runs last at every epoch's end: it digests the weights (sha256 of the float32
weights, kept per epoch for `expctl verify`) and, every `every` epochs, writes the model with
its optimizer state plus the state of expctl's callbacks (history rows, EarlyStopping,
ReduceLROnPlateau, MagnitudePruning) through `expctl.runs.checkpoint.write_checkpoint`. With a
`Resumed` it puts that state back at the start of training, after the callbacks' own
`on_train_begin` has reset them. The randomness needs no state: each epoch's is a function of
(seed, epoch) (`ReseedEachEpoch`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from expctl.errors import BadInputError


def weights_digest(arrays: Any) -> str:
    """sha256 of a model's weights (`model.get_weights()`: trainable and not, in order) as
    contiguous float32 bytes."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _pack_mask(mask: np.ndarray) -> dict[str, Any]:
    bits = np.packbits(np.asarray(mask).ravel() > 0)
    return {"shape": list(mask.shape), "bits": base64.b64encode(bits.tobytes()).decode("ascii")}


def _unpack_mask(data: dict[str, Any]) -> np.ndarray:
    shape = tuple(int(s) for s in data["shape"])
    bits = np.frombuffer(base64.b64decode(data["bits"]), dtype=np.uint8)
    return np.unpackbits(bits)[: math.prod(shape)].reshape(shape).astype(np.float32)


def _number(value: Any) -> float | None:
    """A callback's `best` as JSON: None stays None, infinities are spelled out as strings."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else str(value)  # type: ignore[return-value]


def _from_number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Resumed:
    """What a resumed `train` starts from (read from a checkpoint by `load_resumed`)."""

    state: dict[str, Any]
    weights: list[np.ndarray]
    optimizer_variables: list[np.ndarray]
    best_weights: list[np.ndarray] | None

    @property
    def epoch(self) -> int:
        """Epochs completed (1-based last epoch): `fit`'s `initial_epoch`."""
        return int(self.state["epoch"])

    def finished(self, epochs: int) -> bool:
        """Whether training had already ended at this checkpoint (all epochs, or stopped early)."""
        es = self.state.get("early_stopping") or {}
        return self.epoch >= epochs or int(es.get("stopped_epoch") or 0) > 0


def load_resumed(state: dict[str, Any], model_path: Path, best_path: Path | None) -> Resumed:
    """Read a checkpoint's model (checked, safe mode) and best weights into a `Resumed`."""
    import expctl.training.adversarial  # noqa: F401  (registers AdversarialTrainer)
    from expctl.models.io import load_model

    model = load_model(model_path)
    if model.optimizer is None or not model.optimizer.built:
        raise BadInputError(f"{model_path}: the checkpoint holds no optimizer state")
    best = load_model(best_path).get_weights() if best_path is not None else None
    return Resumed(
        state=state,
        weights=model.get_weights(),
        optimizer_variables=[np.asarray(v.numpy()) for v in model.optimizer.variables],
        best_weights=best,
    )


def restore_model(fitted: Any, resumed: Resumed) -> None:
    """Give the compiled `fitted` model the checkpoint's weights and optimizer state."""
    try:
        fitted.set_weights(resumed.weights)
    except ValueError as exc:
        raise BadInputError(f"the checkpoint does not fit the spec's model: {exc}") from None
    optimizer = fitted.optimizer
    if not optimizer.built:
        optimizer.build(fitted.trainable_variables)
    variables = optimizer.variables
    if len(variables) != len(resumed.optimizer_variables) or any(
        tuple(v.shape) != a.shape
        for v, a in zip(variables, resumed.optimizer_variables, strict=True)
    ):
        raise BadInputError("the checkpoint's optimizer state does not fit the spec's optimizer")
    for variable, value in zip(variables, resumed.optimizer_variables, strict=True):
        variable.assign(value)


@dataclass(frozen=True)
class _Snapshot:
    """One completed epoch in memory: enough to write its checkpoint later."""

    epoch: int
    state: dict[str, Any]
    weights: list[np.ndarray]
    optimizer_variables: list[np.ndarray]


class Checkpointer(keras.callbacks.Callback):
    """Digest the weights after every epoch and write checkpoints as `policy` says (put it last).

    Every epoch's end is also kept in memory (weights, optimizer variables, callback state: a
    copy, no disk): when training ends, or is interrupted (`flush`, called by `train` on
    KeyboardInterrupt), the last completed epoch is written if it is not on disk yet. So
    SIGINT/SIGTERM lose no epoch whatever the policy, and only a SIGKILL loses the epochs since
    the last checkpoint (which a resume then trains again, to the same numbers).

    Args:
        run_path: the run directory (checkpoints go to its `checkpoints/`); None: digests only.
        policy: a `expctl.runs.checkpoint.CheckpointPolicy`.
        recorder: the EpochRecorder whose rows are saved and restored.
        early, plateau, pruning: expctl's EarlyStopping, ReduceLROnPlateau and MagnitudePruning
            callbacks, or None.
        info: extra entries of every state (seed, checkpoint settings).
        resumed: a checkpoint to continue from: its state goes back into the callbacks.
    """

    def __init__(
        self,
        run_path: Path | None,
        policy: Any,
        recorder: Any,
        early: Any = None,
        plateau: Any = None,
        pruning: Any = None,
        info: dict[str, Any] | None = None,
        resumed: Resumed | None = None,
    ) -> None:
        super().__init__()
        self.run_path = None if run_path is None else Path(run_path)
        self.policy = policy
        self.recorder = recorder
        self.early = early
        self.plateau = plateau
        self.pruning = pruning
        self.info = dict(info or {})
        self.resumed = resumed
        self.digests: list[str] = []
        #: the best weights' file on disk, as state files record it
        self.best_weights: dict[str, Any] | None = None
        #: the epoch whose weights early.best_weights holds
        self._best_taken: int | None = None
        self._best_seen: Any = None
        self._snapshot: _Snapshot | None = None
        self.written_epoch = 0
        self._last_write = time.monotonic()

    @property
    def writes(self) -> bool:
        return self.run_path is not None and self.policy.enabled

    # ------------------------------------------------------------------------------ restoring

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._last_write = time.monotonic()
        if self.resumed is None:
            return
        state = self.resumed.state
        self.written_epoch = self.resumed.epoch
        self.recorder.rows[:] = [dict(r) for r in state.get("rows", [])]
        self.digests = list(state.get("weights_sha256", []))
        self.best_weights = state.get("best_weights")
        if self.early is not None and state.get("early_stopping") is not None:
            es = state["early_stopping"]
            self.early.wait = int(es["wait"])
            self.early.stopped_epoch = int(es["stopped_epoch"])
            self.early.best = _from_number(es["best"])
            self.early.best_epoch = int(es["best_epoch"])
            self.early.best_weights = self.resumed.best_weights
            self._best_seen = self.early.best_weights
            if self.best_weights is not None:
                self._best_taken = int(self.best_weights["epoch"])
        if self.plateau is not None and state.get("plateau") is not None:
            pl = state["plateau"]
            self.plateau.wait = int(pl["wait"])
            self.plateau.cooldown_counter = int(pl["cooldown_counter"])
            self.plateau.best = _from_number(pl["best"])
        if self.pruning is not None and state.get("pruning") is not None:
            pr = state["pruning"]
            masks = pr["masks"]
            if len(masks) != len(self.pruning.pruned):
                raise BadInputError("the checkpoint's pruning masks do not fit the model")
            for (_, mask), data in zip(self.pruning.pruned, masks, strict=True):
                mask.assign(_unpack_mask(data))
            self.pruning.current_sparsity = float(pr["current_sparsity"])
            self.pruning._last_bucket = int(pr["last_bucket"])

    # -------------------------------------------------------------------------------- saving

    def state(self, epoch: int) -> dict[str, Any]:
        """The JSON state after (1-based) `epoch`: everything but the model and best files."""
        out: dict[str, Any] = {
            **self.info,
            "epoch": epoch,
            "rows": [dict(r) for r in self.recorder.rows],
            "weights_sha256": list(self.digests),
            "iterations": int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
            "early_stopping": None,
            "plateau": None,
            "pruning": None,
        }
        if self.early is not None:
            out["early_stopping"] = {
                "wait": int(self.early.wait),
                "stopped_epoch": int(self.early.stopped_epoch),
                "best": _number(self.early.best),
                "best_epoch": int(self.early.best_epoch),
            }
        if self.plateau is not None:
            out["plateau"] = {
                "wait": int(self.plateau.wait),
                "cooldown_counter": int(self.plateau.cooldown_counter),
                "best": _number(self.plateau.best),
            }
        if self.pruning is not None:
            out["pruning"] = {
                "current_sparsity": float(self.pruning.current_sparsity),
                "last_bucket": int(self.pruning._last_bucket),
                "masks": [_pack_mask(np.asarray(m.numpy())) for _, m in self.pruning.pruned],
            }
        return out

    def _due(self, epoch: int) -> bool:
        if self.policy.epochs > 0:
            return epoch % self.policy.epochs == 0
        return (
            self.policy.seconds > 0 and time.monotonic() - self._last_write >= self.policy.seconds
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        weights = self.model.get_weights()  # read once: the digest and the snapshot
        self.digests.append(weights_digest(weights))
        if self.early is not None and self.early.best_weights is not self._best_seen:
            self._best_seen = self.early.best_weights
            self._best_taken = done if self.early.best_weights is not None else None
        if not self.writes:
            return
        self._snapshot = _Snapshot(
            epoch=done,
            state=self.state(done),
            weights=weights,
            optimizer_variables=[np.array(v.numpy()) for v in self.model.optimizer.variables],
        )
        if self._due(done):
            self._write(self._snapshot)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.flush()

    def flush(self) -> None:
        """Write the last completed epoch if it is not on disk yet (the model is left as it was)."""
        snapshot = self._snapshot
        if not self.writes or snapshot is None or snapshot.epoch <= self.written_epoch:
            return
        weights = self.model.get_weights()
        variables = self.model.optimizer.variables
        saved = [np.array(v.numpy()) for v in variables]
        try:
            self.model.set_weights(snapshot.weights)
            for variable, value in zip(variables, snapshot.optimizer_variables, strict=True):
                variable.assign(value)
            self._write(snapshot)
        finally:
            self.model.set_weights(weights)
            for variable, value in zip(variables, saved, strict=True):
                variable.assign(value)

    def _write(self, snapshot: _Snapshot) -> None:
        """Write `snapshot`, whose weights and optimizer state the model holds now."""
        from expctl.runs.checkpoint import write_best, write_checkpoint

        assert self.run_path is not None

        def save(path: Path) -> None:
            self.model.save(path)

        taken = self._best_taken
        best_now = taken == snapshot.epoch
        on_disk = self.best_weights is not None and self.best_weights.get("epoch") == taken
        if taken is not None and not best_now and not on_disk:
            # best weights of an epoch that was never written: save them on their own
            current = self.model.get_weights()
            try:
                self.model.set_weights(self.early.best_weights)
                self.best_weights = write_best(self.run_path, taken, save)
            finally:
                self.model.set_weights(current)
        state = {**snapshot.state, "best_weights": self.best_weights if taken else None}
        written = write_checkpoint(self.run_path, state, save, best_now)
        self.best_weights = written.get("best_weights")
        self.written_epoch = snapshot.epoch
        self._last_write = time.monotonic()


class StopAfter(keras.callbacks.Callback):
    """Stop `fit` at the end of (1-based) epoch `epochs` (`expctl verify`)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True
