"""Keras and TensorFlow set-up for a process that trains: quiet start-up, seeds, determinism.

Every path that trains (a run, a resume, a verify, a sweep trial, a bias/variance member) calls
`configure_keras` first, so the same spec and seed give the same numbers.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up lines ignore every log setting."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


#: Whether this process has moved its start-up objects out of the collector's sight.
_frozen = False


@contextlib.contextmanager
def imports_outside_gc() -> Iterator[None]:
    """Import long-lived modules with Python's cyclic garbage collector off, then freeze them.

    Importing TensorFlow and Keras creates about a million objects that live as long as the
    process: the collector made five full passes over them during the import, and every later
    full pass (one as a run's figures are drawn) walked them again; ~0.5 s of a run, measured
    with gc.callbacks. The first time in a process, what exists after the block is frozen
    (`gc.freeze`: never scanned again; reference counting still frees it). The import leaves
    next to no garbage (a full collection just after it finds ~10 objects), and later calls
    (a sweep's next trial) freeze nothing, so a trial's garbage is always collected.
    """
    global _frozen
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not _frozen:
            gc.freeze()
            _frozen = True
        if enabled:
            gc.enable()


def configure_keras(seed: int, deterministic: bool = True) -> None:
    """Import TensorFlow quietly, seed every generator with `seed`, and set op determinism.

    `deterministic=False` (a spec with `train.jit_compile`) turns op determinism off: XLA is not
    available with it. TensorFlow's start-up chatter is shown only with TF_CPP_MIN_LOG_LEVEL=0.
    """
    # TensorFlow's start-up chatter (CPU features, missing CUDA) buries the progress lines; it is
    # shown only to a user who asks for every TensorFlow log with TF_CPP_MIN_LOG_LEVEL=0.
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") != "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced(quiet), imports_outside_gc():
        import keras
        import tensorflow as tf

        tf.config.list_physical_devices()

    if quiet:
        # "N out of the last M calls triggered tf.function retracing": each run of a sweep,
        # ablation or repeat builds a new model, which is expected, not a user's problem
        tf.get_logger().setLevel("ERROR")
    keras.utils.set_random_seed(seed)
    # Same spec and seed must give the same numbers; on a CPU this costs little. XLA
    # (train.jit_compile) is not available with op determinism, so such runs trade it away.
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to `name` while layers are built, then restored.

    Layers keep the policy they were built with; expctl's output layers are float32, so the
    predictions, the loss and every metric are computed in float32 whatever the policy.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


__all__ = ["configure_keras", "native_stderr_silenced", "precision_policy"]
