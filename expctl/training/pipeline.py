"""Training batches whose order in every epoch is a pure function of (seed, epoch).

Keras' `fit` on NumPy arrays shuffles with `tf.random.shuffle` inside a dataset built anew by each
`fit` call, so epoch k's order depends on how many epochs that call has already run: a run resumed
with `initial_epoch=k` would not see the order the uninterrupted run saw. Here the permutation of
epoch e is `stateless_shuffle(range(n), seed=(seed, e))`, read from an epoch variable that a
callback (`expctl.training.callbacks.ReseedEachEpoch`) sets at the start of every epoch.

The pipeline is Keras' own for arrays (`ArrayDataAdapter.get_tf_dataset`): one permutation per
epoch, cut into batches of indices (the last one partial), gathered from the arrays in a parallel
map (GATHER_GROUP batches per NumPy call, unbatched again) and prefetched; so the batches, their sizes and the speed are what `fit(x, y,
shuffle=True)` gives. Its cardinality is declared, so Keras knows the steps per epoch (callbacks
see `params["steps"]`), makes a fresh iterator each epoch, and `steps_per_execution` groups
batches exactly as with arrays.

The batches are gathered from the NumPy arrays themselves (`tf.numpy_function`), never from a
TensorFlow copy of them: `tf.convert_to_tensor` copies an array, and a tensor captured by a
`tf.data` pipeline is copied again, so Keras' own adapter holds the training set up to three times
(issue 15). Only the batches in flight exist twice. `ordered_batches` does the same for
validation and prediction (the events in order, as Keras' adapter cuts them).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from expctl.data.batches import block_batches, block_count, shuffled_batches

#: Training batches gathered by one NumPy call (one `tf.numpy_function` per call costs more
#: than the gather of a batch of a few hundred events).
GATHER_GROUP = 16


class EpochBatches:
    """A `tf.data.Dataset` of one epoch's batches of (x, y[, sample_weight]) and its epoch variable.

    Args:
        x, y, sample_weight: the training arrays (y may be a dict of arrays by head name);
            `sample_weight` None for none.
        batch_size: events per batch; the last batch of an epoch holds the rest.
        seed: with the epoch, the key of the epoch's permutation.
        shuffle: False keeps the arrays' order in every epoch.
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
    ) -> None:
        import tensorflow as tf

        self.n = len(x)
        self.batch_size = int(batch_size)
        self.steps = max(1, math.ceil(self.n / self.batch_size))
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="expctl_epoch")
        arrays: tuple[Any, ...] = (x, y) if sample_weight is None else (x, y, sample_weight)
        self._gather = _gatherer(arrays)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iterator deliver epoch `epoch` (0-based, as Keras counts)."""
        self.epoch.assign(int(epoch))

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of epoch `epoch` (0-based) as a NumPy array: what the dataset delivers."""
        import tensorflow as tf

        return self._permutation(tf.constant(int(epoch), dtype=tf.int64)).numpy()

    def _permutation(self, epoch: Any) -> Any:
        import tensorflow as tf

        # A new range per epoch (not a reused constant) is faster: Keras found the same
        indices = tf.range(self.n, dtype=tf.int64)
        if not self.shuffle:
            return indices
        key = tf.stack([tf.constant(self.seed, dtype=tf.int64), epoch])
        return tf.random.experimental.stateless_shuffle(indices, seed=key)

    def dataset(self) -> Any:
        """The batches of the epoch the epoch variable names, re-read by every new iterator."""
        import tensorflow as tf

        n, batch = self.n, self.batch_size
        full = n // batch
        rest = n - full * batch

        def epoch_order(_: Any) -> Any:
            return self._permutation(self.epoch.read_value())

        groups = full // GATHER_GROUP
        grouped = groups * GATHER_GROUP * batch  # events gathered GATHER_GROUP batches a call

        def batches(indices: Any) -> Any:
            # the same batches as one gather per batch, in the same order: first groups of
            # GATHER_GROUP batches (one NumPy call each, unbatched by tf.data), then the full
            # batches left, then the last partial one
            parallel = tf.data.AUTOTUNE
            head = tf.reshape(indices[:grouped], [groups, GATHER_GROUP, batch])
            out = tf.data.Dataset.from_tensor_slices(head).map(self._gather, parallel).unbatch()
            if full > groups * GATHER_GROUP:
                left = tf.reshape(indices[grouped : full * batch], [-1, batch])
                out = out.concatenate(
                    tf.data.Dataset.from_tensor_slices(left).map(self._gather, parallel)
                )
            if rest:
                last = tf.data.Dataset.from_tensors(indices[full * batch :])
                out = out.concatenate(last.map(self._gather))
            return out

        data = tf.data.Dataset.range(1).map(epoch_order).prefetch(1).flat_map(batches)
        return _finish(data, self.steps)


#: A streamed run keeps its validation events in memory when they take at most this fraction
#: of data.memory_budget; else they are read from the files every epoch.
VAL_IN_MEMORY = 0.125


class StreamedBatches:
    """A `tf.data.Dataset` of one epoch's batches of a streamed dataset, read from its files.

    The batches come from `expctl.data.streamed.StreamedDataset.batches`: chunks read by a
    background thread, mixed through a bounded shuffle buffer whose order is a function of
    (seed, epoch), so a resumed run sees the uninterrupted run's batches; handed to tf.data in
    blocks of batches (`expctl.data.batches.block_batches`, one NumPy call each). The epoch
    variable works as `EpochBatches`' does; the number of batches is known from the scan. The
    first epoch's buffer is filled from construction on (see `__init__`).
    """

    def __init__(
        self, data: Any, batch_size: int, seed: int, shuffle: bool, class_weight: Any
    ) -> None:
        import tensorflow as tf

        self.data = data
        self.n = len(data.train)
        self.batch_size = int(batch_size)
        self.steps = max(1, math.ceil(self.n / self.batch_size))
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="expctl_epoch")
        self.weight = _streamed_weights(data, class_weight)
        signature = _signature(data, self.weight)
        self.signature = signature
        self.blocks = block_batches(self.batch_size, _event_bytes(signature))
        # The first epoch's batches are read from now on, in a background thread, while the
        # validation events are read and Keras sets up: its shuffle buffer is filled before its
        # seed is known (the buffer holds the files' first events whatever the epoch), so the
        # first batch need not wait for a buffer's worth of events (1,000,000: ~0.3 s of work).
        first = _Later()
        self._prepared = [(_Primed(self._start(first if self.shuffle else None)), first)]
        weakref.finalize(self, first.cancel)  # never used: the thread stops waiting for a seed

    def _start(self, seed: Any) -> Any:
        return self.data.batches("train", self.batch_size, seed, self.weight, self.blocks)

    @classmethod
    def of(
        cls, data: Any, batch_size: int, seed: int, shuffle: bool, class_weight: Any
    ) -> tuple[StreamedBatches, Any]:
        """The training batches and the validation batches (in file order; None without)."""
        batches = cls(data, batch_size, seed, shuffle, class_weight)
        validation = None
        if len(data.val) and data.in_memory_bytes("val") <= data.budget * VAL_IN_MEMORY:
            # small enough: read once and kept, instead of read from the files every epoch
            val = data.sample("val", len(data.val))
            w = batches.weight(val)
            y = val.targets if val.targets is not None else val.y
            arrays = (val.x, y) + (() if w is None else (w,))
            validation = ordered_batches(arrays, batch_size)
        elif len(data.val):
            validation = streamed_ordered(data, "val", batch_size, batches.weight)
        return batches, validation

    def set_epoch(self, epoch: int) -> None:
        self.epoch.assign(int(epoch))

    def dataset(self) -> Any:
        """The batches of the epoch the epoch variable names, re-read by every new iterator."""
        import tensorflow as tf

        def epoch_batches(epoch: int) -> Any:
            seed = (self.seed, epoch)
            if self._prepared:  # the first epoch: its reading started with this object
                batches, later = self._prepared.pop()
                later.give(seed)
                return batches
            return self._start(seed if self.shuffle else None)

        epochs = tf.data.Dataset.range(1).map(lambda _: self.epoch.read_value())
        return _python_blocks(
            epoch_batches, self.n, self.batch_size, self.blocks, self.signature, epochs
        )


class _Primed:
    """`items` whose first item is made now by a background thread (which may wait inside, for
    an epoch's seed), the others by the caller's thread as they are asked for: no thread of its
    own through the epoch, whose blocks glibc would keep freed memory for in another arena
    (measured: +0.08 GB peak at 16M events with a thread shuffling ahead)."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.first: tuple[Any, ...] = ()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = threading.Thread(
            target=self._first, name="expctl-read", daemon=True
        )
        self.thread.start()

    def _first(self) -> None:
        try:
            self.first = (next(self.items),)
        except (StopIteration, _Cancelled):
            # cancelled: nothing keeps the exception, whose traceback would hold this object and
            # the readers' frames in a cycle (their thread blocked until a garbage collection)
            pass
        except BaseException as exc:  # raised to the caller of the first item
            self.error = exc

    def __iter__(self) -> _Primed:
        return self

    def __next__(self) -> Any:
        if self.thread is None:
            return next(self.items)
        self.thread.join()
        self.thread = None
        if self.error is not None:
            raise self.error
        if not self.first:
            raise StopIteration
        item, self.first = self.first[0], ()
        return item

    def close(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            getattr(self.items, "close", lambda: None)()


class _Cancelled(Exception):
    """The epoch a `_Later` seed was waited for never came."""


class _Later:
    """A value given later (an epoch's seed), waited for by the thread that needs it; cancelled,
    the wait raises instead (the thread then ends)."""

    def __init__(self) -> None:
        self.value: Any = None
        self.cancelled = False
        self.given = threading.Event()

    def give(self, value: Any) -> None:
        self.value = value
        self.given.set()

    def cancel(self) -> None:
        self.cancelled = True
        self.given.set()

    def __call__(self) -> Any:
        self.given.wait()
        if self.cancelled:
            raise _Cancelled("the epoch these batches were read for never came")
        return self.value


def streamed_ordered(data: Any, split: str, batch_size: int, weight: Any) -> Any:
    """A streamed split's events in file order, in batches (validation)."""
    signature = _signature(data, weight)
    blocks = block_batches(batch_size, _event_bytes(signature))

    def batches(_: int) -> Any:
        return data.batches(split, batch_size, None, weight, blocks)

    return _python_blocks(batches, len(getattr(data, split)), batch_size, blocks, signature)


def streamed_inputs(data: Any, split: str, batch_size: int, record: Any) -> Any:
    """A streamed split's features alone, in file order, in batches of `batch_size` (the last
    partial) cut across chunks as `ordered_batches` cuts an array: for one `model.predict` over
    the whole split (one pipeline, not one per chunk). `record(batch)` sees each chunk's
    `expctl.data.streamed.Batch` (targets, weights) as its features are read."""
    import tensorflow as tf

    signature = tf.TensorSpec((None, None, data.n_features), tf.float32)
    blocks = block_batches(batch_size, _event_bytes(signature))

    def chunks() -> Any:
        for _, batch in data.parts(split):
            record(batch)
            yield (batch.x,)

    def batches(_: int) -> Any:
        for (block,) in shuffled_batches(chunks(), batch_size, 0, [0], blocks):
            yield block

    return _python_blocks(batches, len(getattr(data, split)), batch_size, blocks, signature)


def _python_blocks(
    start: Any, n: int, batch_size: int, blocks: int, signature: Any, args: Any = None
) -> Any:
    """The batches of `n` events that the Python iterator `start(arg)` delivers in blocks of
    `blocks` batches of `batch_size` (`block_count` of them; `signature` with a leading
    dimension that `unbatch` takes off), for the one element `arg` of the dataset `args`
    (default: 0), as a `tf.data.Dataset` of known cardinality (`_finish`).

    Each block is one `tf.numpy_function` call, as `EpochBatches` gathers its batches, not
    `Dataset.from_generator`: creating a generator dataset sets glibc's M_TRIM_THRESHOLD to
    128 kB (TensorFlow 2.21: "Memory patch applied"), which freezes glibc's mmap threshold for
    the whole process, so every block and chunk after it is mapped fresh and page-faulted again
    (a streamed 4M epoch spent ~1 s in the kernel; now 0.2 s). One iteration at a time: a new
    one closes any other (an epoch abandoned midway, its reading thread with it)."""
    import tensorflow as tf

    count = block_count(n, batch_size, blocks)
    specs = tf.nest.flatten(signature)
    running: dict[int, Any] = {}
    tokens = itertools.count()

    def close(iterator: Any) -> None:
        # ValueError: still running in another thread; it ends with that thread's call
        with contextlib.suppress(ValueError):
            getattr(iterator, "close", lambda: None)()

    def begin(arg: Any) -> np.int64:
        while running:
            close(running.popitem()[1])
        token = next(tokens)
        running[token] = iter(start(int(arg)))
        return np.int64(token)

    def block(token: Any, index: Any) -> list[np.ndarray]:
        token, index = int(token), int(index)
        iterator = running.get(token)
        item = None if iterator is None else next(iterator, None)
        if item is None:
            raise RuntimeError(f"the stream ended after {index} of {count} blocks of batches")
        if index == count - 1:
            if next(iterator, None) is not None:
                raise RuntimeError(f"the stream has more than {count} blocks of batches")
            del running[token]
        return tf.nest.flatten(item)

    def blocks_of(token: Any) -> Any:
        def one(index: Any) -> Any:
            out = tf.numpy_function(block, [token, index], [s.dtype for s in specs])
            for tensor, spec in zip(out, specs, strict=True):
                tensor.set_shape(spec.shape)
            return tf.nest.pack_sequence_as(signature, out)

        return tf.data.Dataset.range(count).map(one).unbatch()

    args = tf.data.Dataset.range(1) if args is None else args
    tokens_of = args.map(lambda a: tf.numpy_function(begin, [a], tf.int64))
    return _finish(tokens_of.flat_map(blocks_of), max(1, math.ceil(n / batch_size)))


def _event_bytes(signature: Any) -> int:
    """Bytes of one event in every array of a block `signature` (its first two dimensions
    are the block's batches and their events)."""
    import tensorflow as tf

    return sum(
        s.dtype.size * int(np.prod([d or 1 for d in s.shape[2:]], dtype=np.int64))
        for s in tf.nest.flatten(signature)
    )


def _streamed_weights(data: Any, class_weight: Any) -> Any:
    """Per batch: event weights times class weights as float32 (as `fit.event_weights`), or None."""
    table = None
    if class_weight is not None:
        table = np.array([class_weight[k] for k in range(len(class_weight))])
    if data.files.weight is None and table is None:
        return lambda batch: None

    def weight(batch: Any) -> np.ndarray:
        w = np.ones(len(batch.y)) if batch.w is None else np.asarray(batch.w, dtype=np.float64)
        if table is not None:
            w = w * table[np.asarray(batch.y, dtype=np.int64)]
        return w.astype(np.float32)

    return weight


def _signature(data: Any, weight: Any) -> Any:
    """What a streamed dataset's `batches` yields with `blocks`: (x, y[, w]) groups of batches
    (a leading dimension that `unbatch` takes off: one Python call per group, not per batch)."""
    import tensorflow as tf

    lead = (None, None)
    y: Any = tf.TensorSpec(lead, tf.int64 if data.classes is not None else tf.float32)
    if data.heads:
        y = {
            h.name: tf.TensorSpec(lead, tf.int64 if h.classes is not None else tf.float32)
            for h in data.heads
        }
    out = (tf.TensorSpec((*lead, data.n_features), tf.float32), y)
    probe = weight(_Probe())
    return out + ((tf.TensorSpec(lead, tf.float32),) if probe is not None else ())


class _Probe:
    """A batch of no events: asks a weight function whether it gives weights."""

    y = np.zeros(0, dtype=np.int64)
    w = np.zeros(0)


def ordered_batches(arrays: Any, batch_size: int) -> Any:
    """A `tf.data.Dataset` of `arrays` (an array or a structure of arrays) in order, in batches
    of `batch_size` (the last one partial): what Keras makes of arrays for `evaluate`/`predict`
    and validation, without a copy of the arrays."""
    import tensorflow as tf

    flat = [_host(a) for a in tf.nest.flatten(arrays)]
    n = len(flat[0])
    steps = max(1, math.ceil(n / batch_size))
    block = GATHER_GROUP * batch_size
    blocks = n // block  # GATHER_GROUP full batches per NumPy call, unbatched again

    def rows(start: Any) -> list[np.ndarray]:
        start = int(start)
        return [a[start : start + batch_size] for a in flat]

    def group(start: Any) -> list[np.ndarray]:
        start = int(start)
        return [
            a[start : start + block].reshape(GATHER_GROUP, batch_size, *a.shape[1:]) for a in flat
        ]

    def cut(start: Any) -> Any:
        return _numpy_call(rows, start, flat, arrays)

    def cut_group(start: Any) -> Any:
        return _numpy_call(group, start, flat, arrays, lead_rank=2)

    parallel = tf.data.AUTOTUNE
    data = tf.data.Dataset.range(0, blocks * block, block).map(cut_group, parallel).unbatch()
    rest = tf.data.Dataset.range(blocks * block, max(n, 1), batch_size).map(cut, parallel)
    return _finish(data.concatenate(rest) if blocks else rest, steps)


def _finish(data: Any, steps: int) -> Any:
    """Keras' options for array datasets, the declared number of batches, prefetching."""
    import tensorflow as tf

    options = tf.data.Options()
    # as Keras does for arrays: no graph rewrites (their cost is paid at every new iterator);
    # the epoch variable is state outside the dataset, which tf.data need not save
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    data = data.with_options(options)
    data = data.apply(tf.data.experimental.assert_cardinality(steps))
    return data.prefetch(tf.data.AUTOTUNE)


def _gatherer(arrays: Any) -> Any:
    """A function of a batch of indices giving the rows of `arrays` (same structure) at them."""
    import tensorflow as tf

    flat = [_host(a) for a in tf.nest.flatten(arrays)]

    def rows(index: np.ndarray) -> list[np.ndarray]:
        return [a[index] for a in flat]

    def gather(index: Any) -> Any:
        return _numpy_call(rows, index, flat, arrays)

    return gather


def _numpy_call(
    rows: Any, arg: Any, flat: list[np.ndarray], structure: Any, lead_rank: int | None = None
) -> Any:
    """`rows(arg)` run by NumPy inside the pipeline: one batch of each of `flat`, as tensors
    packed like `structure`, their shapes known but for the batch size."""
    import tensorflow as tf

    out = tf.numpy_function(rows, [arg], [tf.as_dtype(a.dtype) for a in flat], stateful=False)
    # a batch (of indices, or from a start), or (lead_rank 2, or a 2-D index) a group of batches
    lead = (None,) * (lead_rank or max(1, arg.shape.rank or 1))
    for tensor, a in zip(out, flat, strict=True):
        tensor.set_shape((*lead, *a.shape[1:]))
    return tf.nest.pack_sequence_as(structure, out)


def _host(array: Any) -> np.ndarray:
    """A training array as gathered from: float64 becomes float32 (Keras' floatx) as in fit."""
    array = np.asarray(array)
    return array.astype(np.float32) if array.dtype == np.float64 else array
