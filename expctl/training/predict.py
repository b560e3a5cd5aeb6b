"""A trained model's predictions and the metrics that need the model: heads, techniques, attacks.

The metrics themselves are numpy functions of the scores (`expctl.evaluation.tasks`); this module
calls the model (in batches a held signal can stop between, see `expctl.interrupts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from expctl import interrupts
from expctl.data import Dataset
from expctl.evaluation.tasks import ADVERSARIAL_KEYS, evaluate

#: Events per batch of predictions.
PREDICT_BATCH = 8192
#: At most this many batches per `model.predict` call.
PREDICT_GROUP = 8
#: At most this many training events are predicted for the overtraining test and figure: their
#: cost stays the same however large the training split (issue 15); metrics.json states the
#: number used as `overtraining_sample`.
TRAIN_SCORE_SAMPLE = 100_000
#: Mixed into the run's seed, so the sample is not drawn from the same stream as anything else.
_SAMPLE_STREAM = 0x07E5


def model_predict(model: Any, x: np.ndarray) -> Any:
    """The model's outputs on `x` (an array, or a dict by head name), in batches of
    PREDICT_BATCH, stoppable by a held signal between groups of them (expctl.interrupts).

    Keras' compiled predict function (the one `model.predict` runs) is called with groups of
    at most PREDICT_GROUP batches (`steps_per_execution` when that is smaller), each batch cut
    from `x` itself: the scores of `model.predict` on such groups, bit for bit
    (tests/test_lean_data.py, tests/test_predict.py), without Keras' adapter, which copies all of
    `x` first (issue 15), and without a tf.data pipeline per call, whose `tf.numpy_function`
    graph TensorFlow never frees, keeping every array predicted on alive (TensorFlow issue 35084;
    ~27 MB per million events of 7 features scored chunk by chunk).
    """
    import tensorflow as tf

    model.make_predict_function()
    function = model.predict_function
    group = min(max(1, int(getattr(model, "steps_per_execution", 1) or 1)), PREDICT_GROUP)
    starts = range(0, max(len(x), 1), PREDICT_BATCH)
    parts, structure = [], None
    for first in range(0, len(starts), group):
        interrupts.check()
        batches = [
            tf.convert_to_tensor(x[s : s + PREDICT_BATCH]) for s in starts[first : first + group]
        ]
        out = function(batches)
        structure = tf.nest.map_structure(lambda _: None, out)
        parts.append([np.asarray(t) for t in tf.nest.flatten(out)])
    joined = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return tf.nest.pack_sequence_as(structure, joined)


def predict(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    """A single-output model's scores as float64: one column for binary/regression, else all."""
    out = np.asarray(model_predict(model, x), dtype=np.float64)
    return out[:, 0] if task in ("binary", "regression") else out


def predict_heads(model: Any, dataset: Dataset, x: np.ndarray) -> dict[str, np.ndarray]:
    """Scores by head name (one model call); a single-output model's under ""."""
    if not dataset.heads:
        return {"": predict(model, x, dataset.task)}
    out = model_predict(model, x)
    scores = {}
    for h in dataset.heads:
        values = np.asarray(out[h.name], dtype=np.float64)
        scores[h.name] = values[:, 0] if h.task in ("binary", "regression") else values
    return scores


def main_head(dataset: Dataset, head_scores: dict[str, np.ndarray]) -> np.ndarray:
    """The main (first) head's scores of `predict_heads`' result."""
    return head_scores[dataset.heads[0].name] if dataset.heads else head_scores[""]


def main_scores(model: Any, dataset: Dataset, x: np.ndarray) -> np.ndarray:
    """The main head's scores on `x`."""
    return main_head(dataset, predict_heads(model, dataset, x))


def train_sample(dataset: Dataset, seed: int, limit: int = TRAIN_SCORE_SAMPLE) -> np.ndarray:
    """Sorted indices of at most `limit` events of the training split, drawn without replacement.

    A split of at most `limit` events is taken whole (`arange`: the same scores, and the same
    overtraining test, as predicting the whole split); a larger one gives a uniform random subset
    that is a function of `seed` alone. Sorted, so that gathering the rows reads the arrays in
    order. The overtraining test and figure compare the score distributions of training and test
    events: a random sample of the training events has the same distribution, and its size (the
    length of the result) goes into metrics.json as `overtraining_sample`.
    """
    n = len(dataset.train)
    limit = int(limit)
    if limit < 1:
        raise ValueError(f"train_sample: limit must be at least 1, got {limit}")
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng([int(seed), _SAMPLE_STREAM])
    return np.sort(rng.choice(n, size=limit, replace=False))


def head_metrics(
    dataset: Dataset, head_scores: dict[str, np.ndarray], threshold: float
) -> dict[str, dict[str, Any]]:
    """Each head's test metrics, after its task and target (a multitask run's `heads` entry)."""
    return {
        h.name: {"task": h.task, "target": h.target}
        | evaluate(
            h.task, dataset.test.targets[h.name], head_scores[h.name], threshold, dataset.test.w
        )
        for h in dataset.heads
    }


def adversarial_evaluation(
    model: Any,
    split: Any,
    task: str,
    epsilon: float,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Test metrics at FGSM strength ε: each event x becomes x + ε·σ·sign(∇ₓJ(θ, x, y)).

    J is the task's plain loss (no smoothing), its gradient taken in inference mode, σ the
    model's standardisation (so ε is in standard deviations of each input); the metrics are
    exactly `evaluate`'s, event weights included, on the perturbed events.
    """
    from expctl.models.regularizers import make_loss
    from expctl.training.adversarial import fgsm_perturb

    x_adv = fgsm_perturb(model, split.x, split.y, make_loss(task), epsilon)
    attacked = evaluate(task, split.y, predict(model, x_adv, task), threshold, split.w)
    return {
        "adversarial_epsilon": float(epsilon),
        **{f"adversarial_{key}": attacked[key] for key in ADVERSARIAL_KEYS[task]},
    }


def technique_metrics(
    model: Any, dataset: Dataset, spec: Any, clean: dict[str, Any]
) -> dict[str, Any]:
    """The metrics of the training techniques the spec switches on; `clean` is the run's test
    metrics (`evaluate` on the unperturbed test split)."""
    out: dict[str, Any] = {}
    pruning = spec.train.pruning
    if pruning is not None:
        from expctl.training.pruning import sparsity

        out["sparsity"] = sparsity(model, prune_output=pruning.prune_output)
        out["target_sparsity"] = pruning.target_sparsity
    adversarial = spec.train.adversarial
    threshold = spec.evaluate.threshold
    if adversarial is not None:
        out.update(
            adversarial_evaluation(
                model, dataset.test, dataset.task, adversarial.epsilon, threshold
            )
        )
    if spec.evaluate.fgsm_epsilons:
        out["robustness"] = robustness_scan(
            model, dataset.test, dataset.task, spec.evaluate.fgsm_epsilons, clean, threshold
        )
    return out


def robustness_scan(
    model: Any,
    split: Any,
    task: str,
    epsilons: Sequence[float],
    clean: dict[str, Any],
    threshold: float = 0.5,
) -> list[dict[str, float]]:
    """`adversarial_evaluation` at each ε, sorted, after ε = 0 taken from `clean` (`evaluate` of
    the unperturbed split, already computed by the run):
    [{"epsilon": 0.0, "accuracy": ..., "auc": ..., "loss": ...}, ...] (keys per task)."""
    points = [{"epsilon": 0.0, **{key: clean[key] for key in ADVERSARIAL_KEYS[task]}}]
    for epsilon in sorted(epsilons):
        interrupts.check()
        attacked = adversarial_evaluation(model, split, task, epsilon, threshold)
        points.append(
            {"epsilon": float(epsilon)}
            | {key: attacked[f"adversarial_{key}"] for key in ADVERSARIAL_KEYS[task]}
        )
    return points


__all__ = [
    "ADVERSARIAL_KEYS",
    "TRAIN_SCORE_SAMPLE",
    "adversarial_evaluation",
    "evaluate",
    "head_metrics",
    "main_head",
    "main_scores",
    "model_predict",
    "predict",
    "predict_heads",
    "robustness_scan",
    "technique_metrics",
    "train_sample",
]
