"""TensorBoard event files of a run: the history's scalars each epoch, weight histograms opt-in."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras

#: Scalars of the recorder's rows that describe the epoch rather than a metric.
_EPOCH_KEYS = ("learning_rate", "epoch_time_s", "sparsity")


def scalar_tags(row: dict[str, float]) -> list[tuple[str, str, float]]:
    """(writer, tag, value) for each scalar of a history row, laid out as Keras' TensorBoard does.

    Training logs go to the `train` writer and `val_*` logs to `validation`, both under the tag
    `epoch_<metric>`, so TensorBoard draws a metric's training and validation curves on one chart.
    """
    out = []
    for key, value in row.items():
        if key == "epoch" or value is None or not math.isfinite(float(value)):
            continue
        if key.startswith("val_"):
            out.append(("validation", f"epoch_{key.removeprefix('val_')}", float(value)))
        else:
            out.append(("train", f"epoch_{key}", float(value)))
    return out


class TensorBoardLogger(keras.callbacks.Callback):
    """Write each epoch's history row (every log, the learning rate, the epoch time) as scalars.

    Args:
        log_dir: the run's `tensorboard/` folder; `train/` and `validation/` are made below it.
        recorder: the EpochRecorder whose last row is written (it runs before this callback).
        histograms: also write a histogram of every weight variable each epoch (default False:
            they cost time and disk on large models).
    """

    def __init__(self, log_dir: Path, recorder: Any, histograms: bool = False) -> None:
        super().__init__()
        self.log_dir = Path(log_dir)
        self.recorder = recorder
        self.histograms = histograms
        self._writers: dict[str, Any] = {}
        self._histogram_writer: Any = None

    def _writer(self, name: str) -> Any:
        # TensorBoard's own writer (NumPy and protocol buffers, no TensorFlow op): the same
        # tensor scalars as tf.summary.scalar at ~2 ms an epoch of a run instead of ~8 ms of
        # eager ops
        from tensorboard.summary import Writer

        if name not in self._writers:
            self._writers[name] = Writer(str(self.log_dir / name))
        return self._writers[name]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.recorder.rows:
            return
        row = self.recorder.rows[-1]
        step = int(row["epoch"])  # 1-based, as history.csv
        for writer, tag, value in scalar_tags(row):
            self._writer(writer).add_scalar(tag, value, step=step)
        if self.histograms:
            self._write_histograms(step)
        for writer in self._writers.values():
            writer.flush()

    def _write_histograms(self, step: int) -> None:
        """Every weight as a histogram, in an event file of its own in `train/`."""
        import tensorflow as tf

        if self._histogram_writer is None:
            self._histogram_writer = tf.summary.create_file_writer(str(self.log_dir / "train"))
        with self._histogram_writer.as_default():
            for weight in self.model.weights:
                name = weight.path.replace(":", "_")
                tf.summary.histogram(name, keras.ops.convert_to_numpy(weight), step=step)
        self._histogram_writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if self._histogram_writer is not None:
            self._histogram_writer.close()
            self._histogram_writer = None
