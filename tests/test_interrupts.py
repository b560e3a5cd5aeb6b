"""expctl.interrupts: a signal is raised at once, or held inside `deferred()` until a safe point."""

from __future__ import annotations

import os
import signal

import pytest

from expctl import interrupts
from expctl.errors import Interrupted


def _send(sig: int = signal.SIGTERM) -> None:
    os.kill(os.getpid(), sig)


def test_outside_a_deferred_block_the_signal_raises_at_once() -> None:
    reached = False
    with pytest.raises(Interrupted) as caught, interrupts.handled():
        _send()
        reached = True
    assert not reached
    assert caught.value.exit_code == 143 and caught.value.signal_name == "SIGTERM"


def test_a_deferred_signal_waits_for_check() -> None:
    steps = []
    with pytest.raises(Interrupted) as caught, interrupts.handled(), interrupts.deferred():
        _send(signal.SIGINT)
        steps.append("after the signal")  # still running: held
        interrupts.check()
        steps.append("after check")
    assert steps == ["after the signal"]
    assert caught.value.exit_code == 130


def test_the_end_of_a_deferred_block_raises_a_held_signal() -> None:
    steps = []
    with pytest.raises(Interrupted), interrupts.handled():
        with interrupts.deferred():
            _send()
            steps.append("rest of the block")
        steps.append("after the block")
    assert steps == ["rest of the block"]


def test_raised_once_then_later_signals_are_ignored_during_clean_up() -> None:
    cleaned = False
    with pytest.raises(Interrupted), interrupts.handled():
        try:
            with interrupts.deferred():
                _send()
                interrupts.check()
        finally:
            _send()  # a second signal while cleaning up: ignored
            interrupts.check()  # already raised: does not raise again
            cleaned = True
    assert cleaned


def test_handlers_are_restored_and_check_is_a_no_op_outside() -> None:
    before = {sig: signal.getsignal(sig) for sig in interrupts.SIGNALS}
    with interrupts.handled():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in interrupts.SIGNALS} == before
    interrupts.check()  # no handled() block: nothing to raise
    with interrupts.deferred():
        pass


def test_interrupt_points_callback_raises_between_compiled_calls() -> None:
    """A signal held during `model.fit` stops it at the next batch end, not later."""
    import keras
    import numpy as np

    from expctl.training.callbacks import InterruptPoints

    class SignalAtBatch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[int] = []

        def on_train_batch_begin(self, batch: int, logs: object = None) -> None:
            self.batches.append(batch)
            if batch == 1:
                _send()

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((40, 2), dtype="float32")
    seen = SignalAtBatch()
    with pytest.raises(Interrupted), interrupts.handled(), interrupts.deferred():
        model.fit(
            x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[seen, InterruptPoints()]
        )
    assert seen.batches == [0, 1]


def test_a_signal_while_a_figure_is_drawn_ends_the_run_interrupted_after_that_figure(
    write_spec, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised at once inside matplotlib, the exception could be replaced by another one (the run
    then ended `failed`); held, it stops the run between two figures, the first one whole."""
    import json

    from expctl import runner
    from expctl.runner import pipeline
    from expctl.spec import load_spec

    saved: list[str] = []
    save_figure = pipeline._save_figure

    def save_and_signal(path, figure) -> None:
        saved.append(path.name)
        if len(saved) == 1:
            _send()
        save_figure(path, figure)

    monkeypatch.setattr(pipeline, "_save_figure", save_and_signal)
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        runner.run(load_spec(write_spec()), out)
    (run,) = out.iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted" and "SIGTERM" in status["error"]
    assert len(saved) == 1  # no figure after the signal
    assert (run / "plots" / saved[0]).stat().st_size > 1000  # the one being drawn is whole
    assert (run / "metrics.json").is_file() and (run / "model.keras").is_file()
