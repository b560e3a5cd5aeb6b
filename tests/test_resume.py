"""Checkpoints, `expctl resume` and `expctl verify`: an interrupted run ends as if it had not been.

Exact equality is expected throughout: TensorFlow's op determinism is on, each epoch's shuffle
and random draws are functions of (seed, epoch), and weights and optimizer state round-trip
through the checkpoint bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.errors import Interrupted
from expctl.runs.checkpoint import candidates, write_checkpoint
from expctl.runs.store import CRASHED, live_status
from tests.conftest import TINY, deep_merge
from tests.signals import signal_mid_run

ROOT = Path(__file__).resolve().parents[1]

#: Long enough (a few seconds of epochs) to be signalled mid-training from another process, with
#: every piece of state a resume must restore: dropout and input noise (random draws), early
#: stopping with best weights, a plateau schedule (wait counters and the learning rate).
SIGNALLED = {
    "name": "sig",
    "seed": 5,
    "data": {"source": "jets", "n_samples": 2000},
    "model": {"hidden": [16], "dropout": 0.2, "input_noise": 0.1},
    "train": {
        "optimizer": {"name": "adam", "learning_rate": 0.003},
        "batch_size": 16,
        "epochs": 10,
        "early_stopping": {"patience": 4, "restore_best": True},
        "schedule": {"name": "plateau", "patience": 1, "factor": 0.5, "min_delta": 0.002},
    },
}


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `folder` with its modification time and bytes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _status(run: Path) -> dict[str, Any]:
    return json.loads((run / "status.json").read_text())


def _metrics(run: Path) -> dict[str, Any]:
    return json.loads((run / "metrics.json").read_text())


def _history(run: Path) -> list[dict[str, str]]:
    import csv

    with open(run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.pop("epoch_time_s")  # wall-clock time: the only column allowed to differ
    return rows


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _run(spec_path: Path, out: Path, *extra: str) -> Path:
    before = set(out.iterdir()) if out.exists() else set()
    result = _cli("run", str(spec_path), "--output-dir", str(out), "-q", *extra)
    assert result.exit_code == 0, result.output
    (run,) = set(out.iterdir()) - before
    return run


def _interrupted_run(spec_path: Path, out: Path, at_epoch: int) -> Path:
    """Run the spec in this process and interrupt it (as SIGINT would) at the end of `at_epoch`,
    before that epoch's checkpoint: the run's latest checkpoint is epoch `at_epoch - 1`."""
    import keras

    from expctl.runner import RunHooks, run
    from expctl.runs.checkpoint import CheckpointPolicy
    from expctl.spec import load_spec

    class InterruptAt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch + 1 == at_epoch:
                raise Interrupted(signal.SIGINT)

    with pytest.raises(Interrupted):
        hooks = RunHooks(callbacks=[InterruptAt()], checkpoint=CheckpointPolicy(epochs=1))
        run(load_spec(spec_path), out, hooks=hooks)
    (run_dir,) = list(out.iterdir())
    assert _status(run_dir)["status"] == "interrupted"
    return run_dir


# ------------------------------------------------------------------------- real signals


@pytest.fixture(scope="module")
def signalled_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The signalled spec's file and its uninterrupted run."""
    base = tmp_path_factory.mktemp("signalled")
    spec = base / "sig.yaml"
    spec.write_text(yaml.safe_dump(SIGNALLED))
    return spec, _run(spec, base / "reference")


def _wait_for_epochs(proc: subprocess.Popen, out: Path, epochs: int, checkpoint: bool) -> Path:
    """The run directory once `epochs` epochs are in its history (and, with `checkpoint`, in
    its latest checkpoint)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for history in out.glob("*/history.csv") if out.exists() else []:
            run = history.parent
            try:
                done = len(history.read_text().splitlines()) - 1
                if checkpoint:
                    state = json.loads((run / "checkpoints" / "state.json").read_text())
                    done = state["epoch"]
            except (OSError, ValueError, KeyError):
                continue
            if done >= epochs:
                return run
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run did not reach its epochs in time")


@pytest.mark.parametrize(
    ("sig", "code", "status"),
    [
        pytest.param(signal.SIGINT, 130, "interrupted", marks=pytest.mark.slow, id="SIGINT"),
        pytest.param(signal.SIGTERM, 143, "interrupted", id="SIGTERM"),
        pytest.param(signal.SIGKILL, -9, CRASHED, marks=pytest.mark.slow, id="SIGKILL"),
    ],
)
def test_signal_mid_run_then_resume_matches_the_uninterrupted_run(
    tmp_path: Path, signalled_reference: tuple[Path, Path], sig: int, code: int, status: str
) -> None:
    """SIGINT/SIGTERM with the default policy (the interrupted run writes its last epoch);
    SIGKILL with a checkpoint every epoch (nothing can be written after it)."""
    spec, reference = signalled_reference
    out = tmp_path / "out"
    killed = sig == signal.SIGKILL
    every = ["--checkpoint-every", "1"] if killed else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "expctl", "run", str(spec), "--output-dir", str(out), "-q", *every],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = _wait_for_epochs(proc, out, epochs=2, checkpoint=killed)
    time.sleep(0.07)  # somewhere inside the next epoch (or its checkpoint)
    signal_mid_run(proc, run, sig, len(_history(reference)))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert live_status(_status(run))["status"] == status
    leftovers = list((run / "checkpoints").glob(".*tmp*"))
    # SIGINT/SIGTERM are held while a checkpoint is written; SIGKILL may cut a write short,
    # leaving a temporary file that is never part of an intact checkpoint (resume deletes it)
    assert not leftovers or killed
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert 2 <= state["epoch"] < SIGNALLED["train"]["epochs"]

    result = _cli("resume", str(run), "-q")
    assert result.exit_code == 0, result.output
    after = _status(run)
    assert after["status"] == "completed"
    assert after["resumed_from_epoch"] == state["epoch"]
    assert after["resumed_status"] == status
    assert _metrics(run) == _metrics(reference)
    assert _history(run) == _history(reference)
    assert not list((run / "checkpoints").glob(".*tmp*"))


def test_resume_deletes_a_checkpoint_write_cut_short(tmp_path: Path) -> None:
    from expctl.runs.checkpoint import remove_leftovers

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    cut = folder / ".next.tmp-1a2b3c4d.keras"
    cut.write_bytes(b"half a model")
    kept = [folder / "latest.keras", folder / "state.json", folder / "best-0002.keras"]
    for path in kept:
        path.write_bytes(b"intact")
    assert remove_leftovers(tmp_path) == [cut]
    assert sorted(folder.iterdir()) == sorted(kept)
    assert remove_leftovers(tmp_path / "elsewhere") == []


# -------------------------------------------------------------------- in-process resumes


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="dropout"),
        pytest.param(
            {
                "train": {
                    "epochs": 5,
                    "pruning": {"target_sparsity": 0.5, "start_epoch": 1, "end_epoch": 3},
                    "schedule": {"name": "cosine"},
                }
            },
            id="pruning-cosine",
        ),
        pytest.param(
            {"train": {"epochs": 4, "adversarial": {"epsilon": 0.05, "weight": 0.5}}},
            id="adversarial",
        ),
    ],
)
def test_resume_reproduces_the_uninterrupted_run(
    tmp_path: Path, write_spec, extra: dict[str, Any]
) -> None:
    spec = write_spec(deep_merge({"train": {"epochs": 4, "optimizer": {"name": "sgd"}}}, extra))
    reference = _run(spec, tmp_path / "reference")
    run = _interrupted_run(spec, tmp_path / "out", at_epoch=3)
    result = _cli("resume", str(run), "-q")
    assert result.exit_code == 0, result.output
    assert _status(run)["resumed_from_epoch"] == 2
    assert _metrics(run) == _metrics(reference)
    assert _history(run) == _history(reference)


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(
    tmp_path: Path, write_spec
) -> None:
    spec = write_spec(
        {"train": {"epochs": 5, "early_stopping": {"patience": 10, "restore_best": True}}}
    )
    reference = _run(spec, tmp_path / "reference")
    run = _interrupted_run(spec, tmp_path / "out", at_epoch=4)  # checkpoints: 3 (latest), 2
    latest = run / "checkpoints" / "latest.keras"
    data = bytearray(latest.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    latest.write_bytes(bytes(data))

    result = _cli("resume", str(run), "-q")
    assert result.exit_code == 0, result.output
    assert "latest.keras: corrupt" in result.output
    assert "resuming from previous.keras (epoch 2)" in result.output
    assert _status(run)["resumed_from_epoch"] == 2
    assert _metrics(run) == _metrics(reference)
    assert _history(run) == _history(reference)


def test_a_truncated_latest_with_no_previous_is_refused(tmp_path: Path, write_spec) -> None:
    run = _interrupted_run(write_spec(), tmp_path / "out", at_epoch=2)  # only epoch 1 saved
    latest = run / "checkpoints" / "latest.keras"
    latest.write_bytes(latest.read_bytes()[:100])
    before = _snapshot(run)
    result = _cli("resume", str(run))
    assert result.exit_code == 2, result.output
    assert "no intact checkpoint" in result.output
    assert _snapshot(run) == before


# --------------------------------------------------------------------------------- refusals


def test_resume_refuses_a_completed_run(tmp_path: Path, write_spec) -> None:
    run = _run(write_spec(), tmp_path / "out")
    before = _snapshot(run)
    result = _cli("resume", run.name, "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "cannot resume: it completed" in result.output
    assert _snapshot(run) == before


def test_resume_refuses_a_run_that_is_still_running(tmp_path: Path, write_spec) -> None:
    run = _interrupted_run(write_spec(), tmp_path / "out", at_epoch=2)
    status = _status(run)
    # this very process is alive: the run counts as running, not crashed
    live = json.loads(json.dumps(status))
    live.update(status="running", pid=os.getpid(), process_start=None)
    (run / "status.json").write_text(json.dumps(live))
    before = _snapshot(run)
    result = _cli("resume", str(run))
    assert result.exit_code == 2, result.output
    assert "still running" in result.output
    assert _snapshot(run) == before


def test_resume_refuses_changed_data(tmp_path: Path, write_spec) -> None:
    rng = np.random.default_rng(0)
    table = tmp_path / "table.csv"
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    lines = ["a,b,c,label"] + [f"{r[0]},{r[1]},{r[2]},{t}" for r, t in zip(x, y, strict=True)]
    table.write_text("\n".join(lines) + "\n")
    spec = write_spec(
        {"data": {"source": "csv", "path": "table.csv", "target": "label", "n_samples": None}}
    )
    run = _interrupted_run(spec, tmp_path / "out", at_epoch=2)
    lines[5] = "9.0,9.0,9.0,1"  # one event changed
    table.write_text("\n".join(lines) + "\n")
    before = _snapshot(run)
    result = _cli("resume", str(run))
    assert result.exit_code == 2, result.output
    assert "the data no longer match the run" in result.output
    assert _snapshot(run) == before


def test_resume_refuses_a_stored_spec_that_no_longer_validates(tmp_path: Path, write_spec) -> None:
    run = _interrupted_run(write_spec(), tmp_path / "out", at_epoch=2)
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text().replace("dropout: 0.1", "dropout: 1.5"))
    before = _snapshot(run)
    result = _cli("resume", str(run))
    assert result.exit_code == 2, result.output
    assert "stored spec no longer validates" in result.output and "dropout" in result.output
    assert _snapshot(run) == before


# ------------------------------------------------------------------------------ checkpoints


def test_checkpoints_hold_latest_and_previous_with_their_state(tmp_path: Path, write_spec) -> None:
    run = _run(write_spec({"train": {"epochs": 3}}), tmp_path / "out", "--checkpoint-every", "1")
    folder = run / "checkpoints"
    assert {"latest.keras", "previous.keras", "state.json", "previous.json"} <= {
        p.name for p in folder.iterdir()
    }
    state = json.loads((folder / "state.json").read_text())
    previous = json.loads((folder / "previous.json").read_text())
    assert (state["epoch"], previous["epoch"]) == (3, 2)
    assert len(state["rows"]) == 3 and len(state["weights_sha256"]) == 3
    assert state["weights_sha256"][:2] == previous["weights_sha256"]
    assert state["seed"] == TINY["seed"]
    found = candidates(run, warn=pytest.fail)
    assert [c.state["epoch"] for c in found] == [3, 2]
    assert found[0].model_path.name == "latest.keras"


def test_checkpoint_every_zero_writes_none(tmp_path: Path, write_spec) -> None:
    run = _run(write_spec(), tmp_path / "out", "--checkpoint-every", "0")
    assert not (run / "checkpoints").exists()


def test_by_default_a_short_run_writes_only_its_last_epoch(tmp_path: Path, write_spec) -> None:
    run = _run(write_spec({"train": {"epochs": 3}}), tmp_path / "out")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest.keras", "state.json"]
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 3 and len(state["weights_sha256"]) == 3
    assert state["checkpoint_every"] == "10s"


@pytest.mark.parametrize(
    ("text", "epochs", "seconds"),
    [("1", 1, 0.0), ("0", 0, 0.0), ("30s", 0, 30.0), ("5m", 0, 300.0), ("1h", 0, 3600.0)],
)
def test_checkpoint_policy_parses_epochs_and_times(text: str, epochs: int, seconds: float) -> None:
    from expctl.runs.checkpoint import CheckpointPolicy

    policy = CheckpointPolicy.parse(text)
    assert (policy.epochs, policy.seconds) == (epochs, seconds)
    assert CheckpointPolicy.parse(str(policy)) == policy


def test_a_bad_checkpoint_policy_is_refused(tmp_path: Path, write_spec) -> None:
    out = tmp_path / "out"
    result = _cli("run", str(write_spec()), "--output-dir", str(out), "--checkpoint-every", "-3")
    assert result.exit_code == 2 and "--checkpoint-every" in result.output, result.output
    assert not out.exists()


def test_signals_are_held_while_a_checkpoint_is_written(tmp_path: Path) -> None:
    """A SIGTERM in the middle of writing a checkpoint is raised once the checkpoint is whole."""
    from expctl import interrupts
    from expctl.errors import Interrupted

    def save_model(path: Path) -> None:
        path.write_bytes(b"first half ")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        with open(path, "ab") as fh:
            fh.write(b"second half")

    with pytest.raises(Interrupted), interrupts.handled():
        write_checkpoint(tmp_path, {"epoch": 3, "rows": []}, save_model)
    (found,) = candidates(tmp_path, print)
    assert found.state["epoch"] == 3
    assert found.model_path.read_bytes() == b"first half second half"


# ------------------------------------------------------------------------------- randomness


def test_each_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    from expctl.training.pipeline import EpochBatches

    x = np.arange(100, dtype=np.float32)[:, None]
    y = np.arange(100)
    data = EpochBatches(x, y, None, batch_size=32, seed=7)
    again = EpochBatches(x, y, None, batch_size=32, seed=7)
    orders = [data.permutation(e) for e in range(3)]
    assert all(sorted(o) == list(range(100)) for o in orders)
    assert not np.array_equal(orders[0], orders[1])
    assert np.array_equal(again.permutation(2), orders[2])  # no dependence on epochs before
    assert not np.array_equal(EpochBatches(x, y, None, 32, seed=8).permutation(0), orders[0])
    data.set_epoch(2)
    batches = list(data.dataset())
    assert [len(b[1]) for b in batches] == [32, 32, 32, 4]
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), orders[2])
    unshuffled = EpochBatches(x, y, None, 32, seed=7, shuffle=False)
    assert np.array_equal(unshuffled.permutation(5), np.arange(100))


def test_reseeding_makes_dropout_masks_depend_on_the_epoch_only() -> None:
    import keras

    from expctl.training.callbacks import ReseedEachEpoch

    def masks(epochs: list[int]) -> list[np.ndarray]:
        inputs = keras.Input((50,))
        model = keras.Model(inputs, keras.layers.Dropout(0.5)(inputs))
        callback = ReseedEachEpoch(seed=3)
        callback.set_model(model)
        callback.on_train_begin()
        out = []
        for epoch in epochs:
            callback.on_epoch_begin(epoch)
            out.append(np.asarray(model(np.ones((1, 50)), training=True)))
        return out

    first = masks([0, 1, 2])
    resumed = masks([2])
    assert np.array_equal(first[2], resumed[0])
    assert not np.array_equal(first[0], first[1])


# ----------------------------------------------------------------------------------- verify


def test_verify_passes_on_a_good_run(trained_runs: dict[str, Path]) -> None:
    result = _cli("verify", str(trained_runs["binary"]), "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "match (history and weights)" in result.output


def test_verify_names_the_epoch_and_column_of_an_edited_history(
    tmp_path: Path, trained_runs: dict[str, Path]
) -> None:
    run = tmp_path / trained_runs["binary"].name
    shutil.copytree(trained_runs["binary"], run)
    lines = (run / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("val_loss")
    row = lines[2].split(",")
    row[column] = repr(float(row[column]) + 1e-6)
    lines[2] = ",".join(row)
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    result = _cli("verify", str(run), "-q")
    assert result.exit_code == 1, result.output
    assert "first differs at epoch 2, column val_loss" in result.output


def test_verify_detects_different_weights(tmp_path: Path, trained_runs: dict[str, Path]) -> None:
    run = tmp_path / trained_runs["binary"].name
    shutil.copytree(trained_runs["binary"], run)
    state_path = run / "checkpoints" / "state.json"
    state = json.loads(state_path.read_text())
    state["weights_sha256"][0] = "0" * 64
    state_path.write_text(json.dumps(state))
    result = _cli("verify", str(run), "-q", "--epochs", "1")
    assert result.exit_code == 1, result.output
    assert "epoch 1, column weights (sha256)" in result.output
