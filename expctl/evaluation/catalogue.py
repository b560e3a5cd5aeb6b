"""The metric catalogue: every number a run writes, whether it is better high or low, and which is main.

This is the one place that knows a metric's direction. `compare --sort`, `check`'s gate, a
sweep's `direction: auto`, early stopping's and the plateau schedule's `mode: auto`, `ablate`'s
ranking, `list`'s main column and the end-of-run summary all ask it. A name the catalogue does
not know has *no* direction (None): it is never guessed from how the name ends.

Names are looked up as written in metrics.json (`auc`, `rejection_at_50`), as a multitask head's
metric (`heads.energy.r2`), as the validation counterpart Keras logs in history.csv (`val_auc`,
and with heads `val_signal_auc`), and as a bias/variance point's 0-1 decomposition
(`zero_one_variance`). Pure Python: no numpy, no TensorFlow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower"]

BINARY = ("binary",)
MULTICLASS = ("multiclass",)
REGRESSION = ("regression",)
CLASSIFICATION = ("binary", "multiclass")
ALL_TASKS = ("binary", "multiclass", "regression")

#: What an entry is: a test `metric` (a figure of merit, or a statistic with no better
#: direction), a `setting` copied into metrics.json for reference, or training `bookkeeping`.
Kind = Literal["metric", "setting", "bookkeeping"]


@dataclass(frozen=True)
class MetricInfo:
    """One catalogue entry.

    `better`: "higher", "lower" or None (a statistic that is not a figure of merit, a setting);
    `tasks`: the tasks whose runs write it; `main`: a candidate for a run's headline metric.
    """

    name: str
    better: Better | None
    tasks: tuple[str, ...]
    description: str
    kind: Kind = "metric"
    main: bool = False

    @property
    def higher_is_better(self) -> bool | None:
        """True, False, or None when the metric has no better direction."""
        return None if self.better is None else self.better == "higher"


def _entries() -> list[MetricInfo]:
    m = MetricInfo
    return [
        # headline metrics first, in the order a run's main metric is chosen
        m(
            "auc",
            "higher",
            CLASSIFICATION,
            "area under the ROC curve (multiclass: macro one-vs-rest)",
            main=True,
        ),
        m(
            "accuracy",
            "higher",
            CLASSIFICATION,
            "fraction of events classified correctly",
            main=True,
        ),
        m("r2", "higher", REGRESSION, "coefficient of determination", main=True),
        m("loss", "lower", ALL_TASKS, "the task's loss on the test split (log loss, MSE)"),
        m("precision", "higher", BINARY, "TP / (TP + FP) at the threshold"),
        m("recall", "higher", BINARY, "TP / (TP + FN) at the threshold"),
        m("sensitivity", "higher", BINARY, "signal efficiency: TP / (TP + FN) at the threshold"),
        m("specificity", "higher", BINARY, "TN / (TN + FP) at the threshold"),
        m("f1", "higher", BINARY, "harmonic mean of precision and recall"),
        m("brier", "lower", BINARY, "mean squared error of the probabilities"),
        m("auc_ci68_low", "higher", BINARY, "lower end of the AUC's 68% bootstrap interval"),
        m("auc_ci68_high", "higher", BINARY, "upper end of the AUC's 68% bootstrap interval"),
        m(
            "ks_pvalue_signal",
            None,
            BINARY,
            "overtraining KS test p-value (signal): a test, not a score",
        ),
        m(
            "ks_pvalue_background",
            None,
            BINARY,
            "overtraining KS test p-value (background): a test, not a score",
        ),
        m(
            "ks_statistic_signal",
            None,
            BINARY,
            "overtraining KS statistic (signal): a test, not a score",
        ),
        m(
            "ks_statistic_background",
            None,
            BINARY,
            "overtraining KS statistic (background): a test, not a score",
        ),
        m("mse", "lower", REGRESSION, "mean squared error"),
        m("rmse", "lower", REGRESSION, "root mean squared error (mean over outputs)"),
        m("mae", "lower", REGRESSION, "mean absolute error"),
        # techniques
        m("sparsity", "higher", ALL_TASKS, "fraction of pruned kernel weights that are zero"),
        m(
            "adversarial_accuracy",
            "higher",
            CLASSIFICATION,
            "accuracy under FGSM at train.adversarial.epsilon",
        ),
        m("adversarial_auc", "higher", BINARY, "AUC under FGSM at train.adversarial.epsilon"),
        m("adversarial_loss", "lower", ALL_TASKS, "loss under FGSM at train.adversarial.epsilon"),
        m("adversarial_rmse", "lower", REGRESSION, "RMSE under FGSM at train.adversarial.epsilon"),
        m("adversarial_mae", "lower", REGRESSION, "MAE under FGSM at train.adversarial.epsilon"),
        # bias/variance decomposition (one point of `expctl biasvar`)
        m("expected_error", "lower", ALL_TASKS, "expected squared error over members"),
        m(
            "expected_error_noiseless",
            "lower",
            REGRESSION,
            "expected squared error against the true function",
        ),
        m(
            "train_error",
            "lower",
            ALL_TASKS,
            "mean squared error of the members on their training sets",
        ),
        m("bias2_plus_noise", "lower", ALL_TASKS, "squared bias plus noise"),
        m("bias2", "lower", ALL_TASKS, "squared bias"),
        m("variance", "lower", ALL_TASKS, "variance of the members' predictions"),
        m("noise", None, REGRESSION, "the noise variance σ² of the data: a property of the data"),
        m(
            "residual",
            None,
            REGRESSION,
            "finite-sample cross term of the decomposition: an identity check",
        ),
        m("zero_one_expected_loss", "lower", CLASSIFICATION, "expected 0-1 loss (Domingos)"),
        m("zero_one_bias", "lower", CLASSIFICATION, "0-1 bias (Domingos)"),
        m("zero_one_variance", "lower", CLASSIFICATION, "0-1 variance (Domingos)"),
        m(
            "zero_one_unbiased_variance",
            "lower",
            CLASSIFICATION,
            "variance where the main prediction is right: adds to the loss",
        ),
        m(
            "zero_one_biased_variance",
            None,
            CLASSIFICATION,
            "variance where the main prediction is wrong: lowers the loss",
        ),
        m(
            "zero_one_net_variance",
            "lower",
            CLASSIFICATION,
            "unbiased minus biased variance (Domingos)",
        ),
        # settings and bookkeeping written beside the metrics
        m("n", None, ALL_TASKS, "number of test events", kind="bookkeeping"),
        m(
            "threshold",
            None,
            BINARY,
            "the classification threshold (evaluate.threshold)",
            kind="setting",
        ),
        m("target_sparsity", None, ALL_TASKS, "train.pruning.target_sparsity", kind="setting"),
        m("adversarial_epsilon", None, ALL_TASKS, "train.adversarial.epsilon", kind="setting"),
        m("epochs_trained", None, ALL_TASKS, "epochs trained", kind="bookkeeping"),
        m("best_epoch", None, ALL_TASKS, "the epoch whose weights were kept", kind="bookkeeping"),
        m(
            "overtraining_sample",
            None,
            BINARY,
            "training events scored for the overtraining test (a sample when the split is larger)",
            kind="bookkeeping",
        ),
        m(
            "stopped_epoch",
            None,
            ALL_TASKS,
            "the epoch early stopping stopped at",
            kind="bookkeeping",
        ),
        m(
            "restored_best",
            None,
            ALL_TASKS,
            "whether the best epoch's weights were restored",
            kind="bookkeeping",
        ),
        m(
            "learning_rate",
            None,
            ALL_TASKS,
            "the optimizer's learning rate (a per-epoch history column)",
            kind="setting",
        ),
        m(
            "epoch_time_s",
            None,
            ALL_TASKS,
            "wall time of an epoch (a per-epoch history column)",
            kind="bookkeeping",
        ),
    ]


#: Every known metric by name, in catalogue order.
CATALOGUE: dict[str, MetricInfo] = {entry.name: entry for entry in _entries()}

#: The candidates for a run's headline metric, in the order they are chosen.
MAIN_METRICS: tuple[str, ...] = tuple(e.name for e in CATALOGUE.values() if e.main)

#: Families of metrics named by a parameter: `rejection_at_<signal efficiency in %>`.
_FAMILIES: tuple[tuple[re.Pattern[str], MetricInfo], ...] = (
    (
        re.compile(r"rejection_at_\d{1,3}"),
        MetricInfo(
            "rejection_at_<eff>",
            "higher",
            BINARY,
            "background rejection 1/ε_B at the signal efficiency <eff> %",
        ),
    ),
)

#: Metrics printed at the end of a run, per task, in this order.
SUMMARY_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "loss"),
    "multiclass": ("accuracy", "auc", "loss"),
    "regression": ("rmse", "mae", "r2", "loss"),
}

_HEAD_METRIC = re.compile(r"heads\.[^.]+\.(?P<metric>.+)")


def _exact(name: str) -> MetricInfo | None:
    entry = CATALOGUE.get(name)
    if entry is not None:
        return entry
    for pattern, family in _FAMILIES:
        if pattern.fullmatch(name):
            return family
    return None


def lookup(name: str, heads: Iterable[str] = ()) -> MetricInfo | None:
    """The catalogue entry of a metric name as it appears anywhere expctl writes it; None if unknown.

    Recognised forms: `auc`; `heads.<head>.auc` (metrics.json of a multitask run); `val_auc`
    (history.csv); `val_<head>_auc` and `<head>_auc` when `heads` names the run's heads (Keras
    prefixes a head's metrics with its output name).
    """
    entry = _exact(name)
    if entry is not None:
        return entry
    head_metric = _HEAD_METRIC.fullmatch(name)
    if head_metric:
        return _exact(head_metric["metric"])
    base = name.removeprefix("val_")
    entry = _exact(base)
    if entry is not None:
        return entry
    for head in sorted(heads, key=len, reverse=True):
        if base.startswith(f"{head}_"):
            return _exact(base[len(head) + 1 :])
    return None


def direction(name: str, heads: Iterable[str] = ()) -> Better | None:
    """ "higher" or "lower" for a metric with a better direction; None for any other name."""
    entry = lookup(name, heads)
    return None if entry is None else entry.better


def higher_is_better(name: str, heads: Iterable[str] = ()) -> bool | None:
    """True/False for a metric with a better direction; None when it has none or is unknown."""
    entry = lookup(name, heads)
    return None if entry is None else entry.higher_is_better


def is_metric(name: str) -> bool:
    """Whether `name` is a test metric (not a setting or bookkeeping); unknown names count as metrics."""
    entry = lookup(name)
    return entry is None or entry.kind == "metric"


def main_metric(names: Iterable[str]) -> str | None:
    """The headline metric among `names`: auc, else accuracy, else r2, else None."""
    present = set(names)
    return next((name for name in MAIN_METRICS if name in present), None)


def no_direction_message(name: str, what: str) -> str:
    """Why `what` cannot use `name` without an explicit direction, with what to give instead."""
    entry = lookup(name)
    reason = (
        f"{name!r} is not in expctl's metric catalogue"
        if entry is None
        else f"{name!r} ({entry.description}) has no better direction"
    )
    return f"{what}: {reason}; say which way is better explicitly"


__all__ = [
    "CATALOGUE",
    "MAIN_METRICS",
    "SUMMARY_METRICS",
    "MetricInfo",
    "direction",
    "higher_is_better",
    "is_metric",
    "lookup",
    "main_metric",
    "no_direction_message",
]
