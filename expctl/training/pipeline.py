"""Training batches whose order in every epoch is a pure function of (seed, epoch).

Keras' `fit` on NumPy arrays shuffles with `tf.random.shuffle` inside a dataset built anew by each
`fit` call, so epoch k's order depends on how many epochs that call has already run: a run resumed
with `initial_epoch=k` would not see the order the uninterrupted run saw. Here the permutation of
epoch e is `stateless_shuffle(range(n), seed=(seed, e))`, read from an epoch variable that a
callback (`expctl.training.callbacks.ReseedEachEpoch`) sets at the start of every epoch.

The pipeline is Keras' own for arrays (`ArrayDataAdapter.get_tf_dataset`): one permutation per
epoch, cut into batches of indices (the last one partial), each batch gathered from the arrays in
a parallel map and prefetched; so the batches, their sizes and the speed are what `fit(x, y,
shuffle=True)` gives. Its cardinality is declared, so Keras knows the steps per epoch (callbacks
see `params["steps"]`), makes a fresh iterator each epoch, and `steps_per_execution` groups
batches exactly as with arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


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
        self._inputs = tf.nest.map_structure(_tensor, arrays)

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

        def batches(indices: Any) -> Any:
            head = tf.reshape(indices[: full * batch], [full, batch])
            out = tf.data.Dataset.from_tensor_slices(head)
            if rest:
                out = out.concatenate(tf.data.Dataset.from_tensors(indices[full * batch :]))
            return out

        index_batches = tf.data.Dataset.range(1).map(epoch_order).prefetch(1).flat_map(batches)
        data = tf.data.Dataset.zip(
            (index_batches, tf.data.Dataset.from_tensors(self._inputs).repeat())
        )

        def gather(i: Any, arrays: Any) -> Any:
            return tf.nest.map_structure(lambda a: tf.gather(a, i, axis=0), arrays)

        data = data.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        # as Keras does for arrays: no graph rewrites (their cost is paid at every new iterator);
        # the epoch variable is state outside the dataset, which tf.data need not save
        options.experimental_optimization.apply_default_optimizations = False
        options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
        data = data.with_options(options)
        data = data.apply(tf.data.experimental.assert_cardinality(self.steps))
        return data.prefetch(tf.data.AUTOTUNE)


def _tensor(array: Any) -> Any:
    """A constant tensor of a training array; float64 becomes float32 (Keras' floatx) as in fit."""
    import tensorflow as tf

    array = np.asarray(array)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return tf.convert_to_tensor(array)
