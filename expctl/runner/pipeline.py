"""Run one experiment: spec -> data -> model -> train -> evaluate -> run directory.

Everything that can be refused (spec, data) is checked before the run directory exists, so bad
input writes nothing. Once the directory exists, every outcome is recorded in `status.json`:
completed, diverged (non-finite loss), failed (with the error and traceback) or interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl import __version__, interrupts
from expctl.data import Dataset, prepare
from expctl.errors import BadInputError, Interrupted, RunFailedError, SpecError
from expctl.evaluation.metrics import UndefinedMetricWarning
from expctl.runs import RunDir, atomic_save, atomic_write_json, atomic_write_text
from expctl.spec import LoadedSpec, resolved_yaml

if TYPE_CHECKING:
    from expctl.training.checkpoint import Resumed
    from expctl.training.fit import TrainResult

Echo = Callable[[str], None]

#: Metrics printed at the end of a run, per task, in this order.
SUMMARY_METRICS = {
    "binary": ("auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "loss"),
    "multiclass": ("accuracy", "auc", "loss"),
    "regression": ("rmse", "mae", "r2", "loss"),
}


@dataclass(frozen=True)
class RunHooks:
    """Ways for `sweep` and `biasvar` to take part in a normal run.

    `dataset`: turns the prepared Dataset into the one trained on (e.g. a bootstrap resample of
    the training split), called before the run directory exists; `callbacks`: extra Keras
    callbacks for `fit` (e.g. a pruner fed the per-epoch validation metric); `plots`: whether
    the run draws its figures.
    """

    dataset: Callable[[Dataset], Dataset] | None = None
    callbacks: Sequence[Any] = field(default_factory=tuple)
    #: False: no plots/ (a sweep's trials: matplotlib costs ~1 s a run; metrics are unchanged)
    plots: bool = True
    #: when to checkpoint (None: expctl.runs.checkpoint.DEFAULT_POLICY)
    checkpoint: Any = None


NO_HOOKS = RunHooks()


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    status: str
    task: str
    metrics: dict[str, Any]


def _quiet(_: str) -> None:
    return None


def check_against_data(loaded: LoadedSpec, dataset: Dataset) -> None:
    """Refuse spec keys that do not fit the data's task (known only once the data is read)."""
    spec = loaded.spec
    problems = spec.check_task(dataset.task)
    es = spec.train.early_stopping
    if es is not None and es.monitor.startswith("val_") and len(dataset.val) == 0:
        problems.append(
            f"train.early_stopping.monitor: {es.monitor!r} needs validation events but the split is empty"
        )
    cw = spec.train.class_weight
    if isinstance(cw, dict) and dataset.n_classes and max(cw) >= dataset.n_classes:
        problems.append(
            f"train.class_weight: class {max(cw)} does not exist (classes 0..{dataset.n_classes - 1})"
        )
    if problems:
        raise SpecError(f"invalid spec {loaded.source}:\n  " + "\n  ".join(problems))


def run(
    loaded: LoadedSpec, output_dir: Path, echo: Echo = _quiet, hooks: RunHooks = NO_HOOKS
) -> RunOutcome:
    """Train and evaluate the spec, writing a new run directory under `output_dir`.

    Raises SpecError/DataError (exit 2) before writing anything, RunFailedError (exit 1) when the
    run started but failed or diverged; KeyboardInterrupt is recorded as `interrupted` and re-raised.
    """
    with interrupts.handled():
        return _run(loaded, output_dir, echo, hooks)


def _run(loaded: LoadedSpec, output_dir: Path, echo: Echo, hooks: RunHooks) -> RunOutcome:
    spec = loaded.spec
    dataset = prepare(spec.data, loaded.base_dir, spec.seed, spec.heads)
    if hooks.dataset is not None:
        dataset = hooks.dataset(dataset)
    check_against_data(loaded, dataset)
    if spec.tracking.mlflow is not None:
        from expctl.export import require_mlflow

        require_mlflow()  # refused before anything is written, with the install hint

    _configure_keras(spec.seed, deterministic=not spec.train.jit_compile)

    def train_and_evaluate() -> RunOutcome:
        interrupts.check()  # a signal held since the directory was created is recorded now
        atomic_write_text(run_dir.file("spec.yaml"), resolved_yaml(spec))
        atomic_write_json(run_dir.file("data.json"), data_record(dataset, loaded.base_dir))
        atomic_write_json(run_dir.file("environment.json"), environment(loaded.base_dir))
        return _train_and_evaluate(loaded, dataset, run_dir, started, echo, hooks)

    # held from the directory's creation on, so a signal cannot leave it `running`
    with interrupts.deferred():
        run_dir = RunDir.create(Path(output_dir), spec.name)
        started = time.perf_counter()
        run_dir.start(spec.name, __version__)
        echo(
            f"run {run_dir.id}: {dataset.description}; task {dataset.task}; "
            f"{len(dataset.train)}/{len(dataset.val)}/{len(dataset.test)} train/val/test events"
        )
        outcome = _recorded(run_dir, started, train_and_evaluate)
    _after_run(run_dir.path, spec, echo)
    return outcome


def _recorded(run_dir: RunDir, started: float, body: Callable[[], RunOutcome]) -> RunOutcome:
    """Run `body`, recording how it ends in status.json: interrupted, failed (with traceback)."""
    try:
        return body()
    except RunFailedError:
        raise  # its final status (diverged) is already recorded
    except KeyboardInterrupt as exc:
        reason = str(exc) if isinstance(exc, Interrupted) else "interrupted by the user (SIGINT)"
        run_dir.finish("interrupted", time.perf_counter() - started, error=reason)
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
        try:
            atomic_write_text(run_dir.file("traceback.txt"), tb)
        finally:
            run_dir.finish("failed", time.perf_counter() - started, error=error)
        raise RunFailedError(f"run {run_dir.path} failed: {error}") from exc


def data_fingerprint(dataset: Dataset) -> str:
    """sha256 over every array trained, validated and tested on (dtype, shape and bytes).

    Recorded in data.json; `expctl resume` and `expctl verify` refuse a run whose data, prepared
    again from its spec, no longer give the same arrays.
    """
    import hashlib

    digest = hashlib.sha256()
    for name in ("train", "val", "test"):
        split = getattr(dataset, name)
        arrays = {"x": split.x, "y": split.y, "w": split.w}
        for head, values in sorted((split.targets or {}).items()):
            arrays[f"target:{head}"] = values
        for key, array in arrays.items():
            if array is None:
                continue
            array = np.ascontiguousarray(array)
            digest.update(f"{name}.{key}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def data_record(dataset: Dataset, spec_dir: Path) -> dict[str, Any]:
    """data.json: the dataset's summary, its fingerprint and the folder relative paths start in."""
    return {
        **dataset.summary(),
        "fingerprint": data_fingerprint(dataset),
        "spec_dir": str(spec_dir),
    }


def _after_run(path: Path, spec: Any, echo: Echo) -> None:
    """What reads the finished run directory: report.html, then the MLflow export."""
    from expctl.reports import write_run_report

    with interrupts.deferred():  # the report is drawn whole; a signal is raised after it
        write_run_report(path)
    uri = spec.tracking.mlflow
    if uri is not None:
        from expctl.errors import ExpctlError
        from expctl.export import export_run

        try:
            mlflow_id = export_run(path, uri, spec.tracking.mlflow_experiment)
        except ExpctlError as exc:
            raise ExpctlError(
                f"{exc.message}\nthe run itself completed ({path}); retry the export with "
                f"`expctl export {path} --mlflow {uri}`"
            ) from None
        echo(
            f"logged to MLflow {uri}: experiment {spec.tracking.mlflow_experiment}, run {mlflow_id}"
        )


@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool) -> Iterator[None]:
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


def _configure_keras(seed: int, deterministic: bool = True) -> None:
    # TensorFlow's start-up chatter (CPU features, missing CUDA) buries the progress lines; it is
    # shown only to a user who asks for every TensorFlow log with TF_CPP_MIN_LOG_LEVEL=0.
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") != "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_silenced(quiet):
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


def _train_and_evaluate(
    loaded: LoadedSpec,
    dataset: Dataset,
    run_dir: RunDir,
    started: float,
    echo: Echo,
    hooks: RunHooks,
    resumed: Resumed | None = None,
) -> RunOutcome:
    from expctl.models import build_model
    from expctl.training import train

    spec = loaded.spec
    # TensorFlow and matplotlib at work: a signal is held until a safe point (expctl.interrupts)
    with interrupts.deferred():
        with precision_policy(spec.train.precision):
            model = build_model(spec.model, dataset)
        epochs = spec.train.epochs

        def on_epoch(rows: list[dict[str, float]]) -> None:
            write_history(run_dir.file("history.csv"), rows)
            echo(progress_line(rows[-1], epochs))

        if resumed is None:
            atomic_write_text(run_dir.file("model_summary.txt"), model_summary(model, spec))
        tracking = spec.tracking
        result = train(
            model,
            dataset,
            spec.train,
            on_epoch,
            hooks.callbacks,
            tensorboard_dir=run_dir.file("tensorboard") if tracking.tensorboard else None,
            histograms=tracking.histograms,
            seed=spec.seed,
            checkpoint_dir=run_dir.path,
            checkpoint_policy=hooks.checkpoint,
            resumed=resumed,
        )
        training = {
            "epochs_trained": result.epochs_trained,
            "best_epoch": result.best_epoch,
            "stopped_epoch": result.stopped_epoch,
            "restored_best": result.restored_best,
        }
        if result.diverged:
            _save_learning_curves(run_dir, result, spec.name)
            reason = f"diverged: {result.divergence_reason}"
            run_dir.finish(
                "diverged", time.perf_counter() - started, error=reason, training=training
            )
            raise RunFailedError(f"run {run_dir.path} {reason}")

        head_scores = _predict_heads(model, dataset, dataset.test.x)
        scores = head_scores[dataset.heads[0].name] if dataset.heads else head_scores[""]
        metrics = {
            **evaluate(
                dataset.task, dataset.test.y, scores, spec.evaluate.threshold, dataset.test.w
            ),
            **training,
        }
        if dataset.heads:
            # the main (first) head's metrics stay at the top level, for list/compare/roc
            metrics["heads"] = {
                h.name: {"task": h.task, "target": h.target}
                | evaluate(
                    h.task,
                    dataset.test.targets[h.name],
                    head_scores[h.name],
                    spec.evaluate.threshold,
                    dataset.test.w,
                )
                for h in dataset.heads
            }
        metrics.update(technique_metrics(model, dataset, spec, metrics))
        figures: dict[str, Any] = {}
        if dataset.task == "binary":
            train_scores = _main_scores(model, dataset, dataset.train.x)
            extra, figures = binary_diagnostics(dataset, train_scores, scores, metrics, spec)
            metrics.update(extra)
        elif dataset.task == "multiclass":
            from expctl.plots import confusion_figure

            names = [str(c) for c in dataset.classes or ()]
            figures["confusion.png"] = lambda: confusion_figure(
                metrics["confusion_matrix"], names, title=f"{spec.name} (test)"
            )
        atomic_write_json(run_dir.file("metrics.json"), metrics)
        _save_predictions(run_dir.file("predictions.npz"), dataset, scores, head_scores)
        atomic_save(run_dir.file("model.keras"), lambda tmp: model.save(tmp))
        # matplotlib too: an exception raised inside its drawing can be replaced by another one
        # (a ValueError from a half-done layout), so the run would end `failed`, not `interrupted`
        if hooks.plots:
            interrupts.check()
            _save_learning_curves(run_dir, result, spec.name)
            for name, draw in figures.items():
                interrupts.check()
                try:
                    figure = draw()
                except ValueError as exc:  # e.g. no signal event in the test split: nothing to draw
                    warnings.warn(
                        f"plots/{name} not drawn: {exc}", UndefinedMetricWarning, stacklevel=1
                    )
                    continue
                _save_figure(run_dir.file(f"plots/{name}"), figure)
    run_dir.finish("completed", time.perf_counter() - started, training=training)
    return RunOutcome(run_dir=run_dir.path, status="completed", task=dataset.task, metrics=metrics)


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


def model_summary(model: Any, spec: Any) -> str:
    """model_summary.txt: Keras' layer table, then what acts on training outside the layers."""
    lines = [f"model {model.name}: {model.count_params():,} parameters", ""]
    lines.append(f"{'layer (type)':<44} {'output shape':<22} {'params':>9}  settings")
    for layer in model.layers:
        shape = str(tuple(getattr(layer, "output", None).shape)) if layer.output is not None else ""
        lines.append(
            f"{layer.name + ' (' + type(layer).__name__ + ')':<44} {shape:<22} "
            f"{layer.count_params():>9,}  {_layer_settings(layer)}".rstrip()
        )
    train_spec = spec.train
    extra = []
    if train_spec.adversarial is not None:
        a = train_spec.adversarial
        extra.append(
            f"adversarial training: {a.method}, epsilon {a.epsilon:g} (standard deviations "
            f"of each input), loss (1-{a.weight:g})·J(x) + {a.weight:g}·J(x_adv)"
        )
    if train_spec.pruning is not None:
        pr = train_spec.pruning
        extra.append(
            f"pruning: magnitude, target sparsity {pr.target_sparsity:g} of the hidden kernels, "
            f"polynomial from epoch {pr.start_epoch} to {pr.end_epoch}"
        )
    if train_spec.precision != "float32":
        extra.append(f"precision: {train_spec.precision} (outputs, loss and metrics in float32)")
    if train_spec.jit_compile:
        extra.append("jit_compile: XLA (op determinism off: reruns may differ in the last bits)")
    if train_spec.label_smoothing:
        extra.append(f"label smoothing: targets {train_spec.label_smoothing:g} and 1-ε")
    if spec.data.label_noise:
        extra.append(f"label noise: {spec.data.label_noise:g} of the training labels flipped")
    if train_spec.class_weight is not None:
        extra.append(f"class weights: {train_spec.class_weight}")
    text = "\n".join(lines)
    return text + ("\n\ntraining:\n  " + "\n  ".join(extra) if extra else "") + "\n"


#: Layer config keys worth showing in model_summary.txt (what each technique set).
_SHOWN_SETTINGS = (
    "units",
    "filters",
    "kernel_size",
    "padding",
    "pool_size",
    "activation",
    "rate",
    "stddev",
    "factor",
    "height_factor",
    "width_factor",
    "mode",
    "weight_noise",
    "weight_noise_dist",
    "scale",
    "offset",
)


def _layer_settings(layer: Any) -> str:
    config = layer.get_config()
    parts = [f"{k}={config[k]}" for k in _SHOWN_SETTINGS if config.get(k) not in (None, "linear")]
    for key in ("kernel_regularizer", "kernel_constraint"):
        value = config.get(key)
        if isinstance(value, dict):
            inner = value.get("config") or {}
            args = ",".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in inner.items()
            )
            parts.append(f"{key.removeprefix('kernel_')}={value.get('class_name')}({args})")
    return " ".join(parts)


# ----------------------------------------------------------------------------------- evaluation


def _model_predict(model: Any, x: np.ndarray) -> Any:
    """`model.predict`, stoppable by a held signal between its batches (expctl.interrupts)."""
    from expctl.training.callbacks import InterruptPoints

    return model.predict(x, batch_size=8192, verbose=0, callbacks=[InterruptPoints()])


def _predict(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    out = np.asarray(_model_predict(model, x), dtype=np.float64)
    return out[:, 0] if task in ("binary", "regression") else out


def _predict_heads(model: Any, dataset: Dataset, x: np.ndarray) -> dict[str, np.ndarray]:
    """Scores by head name (one model call); a single-output model's under ""."""
    if not dataset.heads:
        return {"": _predict(model, x, dataset.task)}
    out = _model_predict(model, x)
    scores = {}
    for h in dataset.heads:
        values = np.asarray(out[h.name], dtype=np.float64)
        scores[h.name] = values[:, 0] if h.task in ("binary", "regression") else values
    return scores


def _main_scores(model: Any, dataset: Dataset, x: np.ndarray) -> np.ndarray:
    scores = _predict_heads(model, dataset, x)
    return scores[dataset.heads[0].name] if dataset.heads else scores[""]


def evaluate(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Test metrics of a task from the true targets and the model's outputs (see metrics.json)."""
    from expctl.evaluation import binary_metrics, multiclass_metrics, regression_metrics

    evaluators: dict[str, Callable[[], dict[str, Any]]] = {
        "binary": lambda: {
            **binary_metrics(y_true, scores, threshold=threshold, sample_weight=weight),
            "threshold": threshold,
        },
        "multiclass": lambda: multiclass_metrics(y_true, scores, sample_weight=weight),
        "regression": lambda: regression_metrics(y_true, scores, sample_weight=weight),
    }
    return evaluators[task]()


#: Test metrics recomputed on FGSM-perturbed events, per task (metrics.json: adversarial_<key>).
ADVERSARIAL_KEYS = {
    "binary": ("accuracy", "auc", "loss"),
    "multiclass": ("accuracy", "loss"),
    "regression": ("rmse", "mae", "loss"),
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
    attacked = evaluate(task, split.y, _predict(model, x_adv, task), threshold, split.w)
    return {
        "adversarial_epsilon": float(epsilon),
        **{f"adversarial_{key}": attacked[key] for key in ADVERSARIAL_KEYS[task]},
    }


def technique_metrics(
    model: Any, dataset: Dataset, spec: Any, clean: dict[str, Any]
) -> dict[str, Any]:
    """metrics.json entries of the training techniques the spec switches on; `clean` is the
    run's test metrics (`evaluate` on the unperturbed test split)."""
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


def _save_predictions(
    path: Path,
    dataset: Dataset,
    scores: np.ndarray,
    head_scores: dict[str, np.ndarray] | None = None,
) -> None:
    """predictions.npz: y_true, y_score (the main head), weight, classes; and with several
    heads `y_true_<head>`, `y_score_<head>` for each."""
    arrays: dict[str, np.ndarray] = {"y_true": dataset.test.y, "y_score": scores}
    for h in dataset.heads:
        arrays[f"y_true_{h.name}"] = dataset.test.targets[h.name]
        arrays[f"y_score_{h.name}"] = (head_scores or {})[h.name]
    if dataset.test.w is not None:
        arrays["weight"] = dataset.test.w
    if dataset.classes is not None:
        arrays["classes"] = np.asarray([str(c) for c in dataset.classes])

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_save(path, write)


# --------------------------------------------------------------------------------- history/plots


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """history.csv: one row per epoch, columns in first-seen order, rewritten atomically each epoch."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(_fmt(row.get(c)) for c in columns))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def progress_line(row: dict[str, float], epochs: int) -> str:
    """One line per epoch: the losses, the main validation metrics, the learning rate, the time."""
    width = len(str(epochs))
    parts = [f"epoch {int(row['epoch']):>{width}}/{epochs}"]
    main = ("loss", "val_loss", "accuracy", "val_accuracy", "val_auc", "val_mae")
    heads = [
        k
        for k in row
        if k.startswith("val_") and k.endswith(("_accuracy", "_auc", "_mae")) and k not in main
    ]
    for key in (*main, *heads):
        if key in row:
            parts.append(f"{key} {row[key]:.4f}")
    if "sparsity" in row:
        parts.append(f"sparsity {row['sparsity']:.3f}")
    parts.append(f"lr {row['learning_rate']:.2e}")
    parts.append(f"{row['epoch_time_s']:.1f}s")
    return "  ".join(parts)


def _save_figure(path: Path, figure: Any) -> None:
    atomic_save(path, lambda tmp: figure.savefig(tmp, dpi=120))


def _save_learning_curves(run_dir: RunDir, result: TrainResult, name: str) -> None:
    """plots/learning_curves.png of a training result, its best and early-stopped epochs marked."""
    if not result.rows:
        return
    import pandas as pd

    from expctl.plots import learning_curves

    figure = learning_curves(
        pd.DataFrame(result.rows), result.best_epoch, name, stopped_epoch=result.stopped_epoch
    )
    _save_figure(run_dir.file("plots/learning_curves.png"), figure)


def binary_diagnostics(
    dataset: Dataset,
    train_scores: np.ndarray,
    scores: np.ndarray,
    metrics: dict[str, Any],
    spec: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Extra binary metrics (AUC interval, rejections, overtraining KS test, confusion), and their
    plots as functions drawing each figure (called only when the run draws plots)."""
    from expctl.evaluation import (
        auc_interval,
        binary_confusion,
        overtraining_test,
        rejection_at,
        roc_curve,
    )
    from expctl.plots import confusion_figure, overtraining_figure, rejection_figure, roc_figure

    y = dataset.test.y
    w = dataset.test.w
    interval = auc_interval(y, scores, sample_weight=w, seed=spec.seed)
    ks = overtraining_test(train_scores, dataset.train.y, scores, y)
    counts = binary_confusion(y, scores, threshold=spec.evaluate.threshold, sample_weight=w)
    cell = int if w is None else float  # weighted counts are sums of weights
    matrix = [[cell(counts["tn"]), cell(counts["fp"])], [cell(counts["fn"]), cell(counts["tp"])]]
    extra = {
        "auc_ci68_low": interval["low"],
        "auc_ci68_high": interval["high"],
        "rejection_at_50": rejection_at(y, scores, 0.5, sample_weight=w),
        "rejection_at_90": rejection_at(y, scores, 0.9, sample_weight=w),
        **ks,
        "confusion_matrix": matrix,
    }
    classes = tuple(dataset.classes or (0, 1))
    names = ["background (0)", "signal (1)"] if classes == (0, 1) else [str(c) for c in classes]
    figures: dict[str, Any] = {
        "overtraining.png": lambda: overtraining_figure(
            train_scores, dataset.train.y, scores, y, ks=ks, title=f"{spec.name}: training vs test"
        ),
        "confusion.png": lambda: confusion_figure(
            matrix, names, title=f"{spec.name} (test, threshold {spec.evaluate.threshold:g})"
        ),
    }
    if np.isfinite(metrics["auc"] if metrics["auc"] is not None else np.nan):
        fpr, tpr, _ = roc_curve(y, scores, sample_weight=w)
        curve = {
            "fpr": fpr,
            "tpr": tpr,
            "label": spec.name,
            "auc": metrics["auc"],
            "auc_ci68": (interval["low"], interval["high"]),
        }
        figures["roc.png"] = lambda: roc_figure([curve], title=f"ROC: {spec.name} (test)")
        figures["rejection.png"] = lambda: rejection_figure([curve], title=f"{spec.name} (test)")
    return extra, figures


# ---------------------------------------------------------------------------------- environment


def environment(spec_dir: Path) -> dict[str, Any]:
    """Versions, machine and git state: what is needed to reproduce the run."""
    import keras
    import tensorflow as tf

    return {
        "expctl": __version__,
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "git": _git_state(spec_dir),
        "argv": sys.argv,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_state(folder: Path) -> dict[str, Any] | None:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty)}


def summary_lines(outcome: RunOutcome) -> list[str]:
    """The end-of-run summary: where the run is and its test metrics."""
    lines = [f"run directory: {outcome.run_dir}"]
    metrics = outcome.metrics
    if metrics.get("stopped_epoch"):
        restored = ", its weights restored" if metrics.get("restored_best") else ""
        lines.append(
            f"early stopping at epoch {metrics['stopped_epoch']}; best epoch {metrics['best_epoch']}{restored}"
        )
    shown = [k for k in SUMMARY_METRICS[outcome.task] if k in metrics]
    lines.append("test " + "  ".join(f"{k} {_show(metrics[k])}" for k in shown))
    for name, head in (metrics.get("heads") or {}).items():
        task = head.get("task", "regression")
        keys = [k for k in SUMMARY_METRICS[task] if k in head][:4]
        lines.append(f"  head {name}: " + "  ".join(f"{k} {_show(head[k])}" for k in keys))
    extra = [k for k in TECHNIQUE_METRICS if k in metrics]
    if extra:
        lines.append("  " + "  ".join(f"{k} {_show(metrics[k])}" for k in extra))
    return lines


#: Technique metrics shown after the test metrics when present.
TECHNIQUE_METRICS = ("sparsity", "adversarial_epsilon", "adversarial_accuracy", "adversarial_auc")


def _show(value: Any) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )


__all__ = [
    "RunOutcome",
    "VerifyReport",
    "check_against_data",
    "data_fingerprint",
    "environment",
    "evaluate",
    "resume",
    "run",
    "summary_lines",
    "verify",
    "write_history",
]


# ---------------------------------------------------------------------------------- resume/verify

#: Statuses `expctl resume` continues (`crashed`: still `running` but its process is gone).
RESUMABLE = ("interrupted", "crashed")


def _stored_spec(run_path: Path) -> tuple[LoadedSpec, dict[str, Any]]:
    """The run's spec.yaml, validated again, with relative data paths resolved as at run time;
    and its data.json. BadInputError (exit 2) if either is unusable."""
    from expctl.runs import read_json
    from expctl.spec import load_spec

    try:
        loaded = load_spec(run_path / "spec.yaml")
    except SpecError as exc:
        raise SpecError(f"the run's stored spec no longer validates: {exc.message}") from None
    try:
        data = read_json(run_path / "data.json")
    except ValueError as exc:
        raise BadInputError(f"cannot read the run's data record: {exc}") from None
    spec_dir = Path(str(data.get("spec_dir") or run_path)) if isinstance(data, dict) else run_path
    if not spec_dir.is_dir():
        spec_dir = run_path
    return LoadedSpec(spec=loaded.spec, source=loaded.source, base_dir=spec_dir), data


def _same_data(loaded: LoadedSpec, record: dict[str, Any], run_path: Path) -> Dataset:
    """The dataset prepared again from the stored spec; BadInputError if it is not the one trained on."""
    spec = loaded.spec
    dataset = prepare(spec.data, loaded.base_dir, spec.seed, spec.heads)
    check_against_data(loaded, dataset)
    recorded = record.get("fingerprint")
    if not recorded:
        raise BadInputError(
            f"{run_path / 'data.json'}: no data fingerprint recorded (a run from an older expctl); "
            "cannot check that the data are the same"
        )
    now = data_fingerprint(dataset)
    if now != recorded:
        raise BadInputError(
            f"the data no longer match the run: {spec.data.source} data prepared from "
            f"{run_path / 'spec.yaml'} give fingerprint {now[:19]}..., the run recorded "
            f"{recorded[:19]}... in data.json (the data file or generator changed)"
        )
    return dataset


@contextlib.contextmanager
def _run_lock(run_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run directory: one resume at a time (released on exit/kill)."""
    import fcntl

    fd = os.open(run_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInputError(
                f"{run_path}: another expctl process is resuming this run"
            ) from None
        yield
    finally:
        os.close(fd)


def resume(run_path: Path, echo: Echo = _quiet, warn: Echo = _quiet) -> RunOutcome:
    """Continue an interrupted or crashed run from its last intact checkpoint, in its directory.

    Everything is checked before anything is written (BadInputError, exit 2): the status, the
    stored spec, the data (by fingerprint) and the checkpoint (checksums, then a safe-mode load;
    a damaged latest checkpoint falls back to the previous one, with a `warn` line). Then the
    run is `running` again and ends as a fresh run would (completed, diverged, failed,
    interrupted); status.json records `resumed_from_epoch`.
    """
    with interrupts.handled(), _run_lock(Path(run_path)):
        return _resume(Path(run_path), echo, warn)


def _resume(run_path: Path, echo: Echo, warn: Echo) -> RunOutcome:
    from expctl.runs.checkpoint import LATEST, STATE, CheckpointPolicy, candidates
    from expctl.runs.store import live_status

    try:
        run_dir = RunDir.open(run_path)
    except ValueError as exc:
        raise BadInputError(f"cannot read the run's status: {exc}") from None
    status = live_status(run_dir.status)
    state = status.get("status")
    if state not in RESUMABLE:
        why = {
            "running": f"it is still running (pid {status.get('pid')} on {status.get('host')})",
            "completed": "it completed",
        }.get(str(state), f"its status is {state}")
        raise BadInputError(
            f"{run_path}: cannot resume: {why}; only an interrupted or crashed run can be resumed"
        )
    loaded, record = _stored_spec(run_path)
    spec = loaded.spec
    dataset = _same_data(loaded, record, run_path)
    found = candidates(run_path, warn)
    if not found:
        raise BadInputError(f"{run_path}: no intact checkpoint to resume from (checkpoints/)")
    _configure_keras(spec.seed, deterministic=not spec.train.jit_compile)
    resumed, used = _load_first(found, warn)
    if used.source != STATE or used.model_path.name != LATEST:
        warn(
            f"the latest checkpoint is unusable; resuming from {used.model_path.name} "
            f"(epoch {resumed.epoch})"
        )
    try:
        policy = CheckpointPolicy.parse(resumed.state.get("checkpoint_every", "1"))
    except ValueError:
        policy = None
    previous_s = status.get("duration_s")
    if not isinstance(previous_s, int | float):
        previous_s = sum(float(r.get("epoch_time_s", 0.0)) for r in resumed.state.get("rows", []))
    started = time.perf_counter() - float(previous_s)

    def body() -> RunOutcome:
        interrupts.check()  # a signal held since the restart is recorded now
        rows = resumed.state.get("rows", [])
        if rows:
            write_history(run_dir.file("history.csv"), rows)
        hooks = RunHooks(checkpoint=policy)
        return _train_and_evaluate(loaded, dataset, run_dir, started, echo, hooks, resumed)

    # held from the restart on, so a signal cannot leave the run `running`
    with interrupts.deferred():
        run_dir.restart(
            __version__,
            resumed_from_epoch=resumed.epoch,
            resumed_at=_utc_now(),
            resumed_status=state,
        )
        echo(
            f"run {run_dir.id}: resuming after epoch {resumed.epoch} of {spec.train.epochs} "
            f"(was {state}; checkpoints/{used.model_path.name})"
        )
        outcome = _recorded(run_dir, started, body)
    _after_run(run_dir.path, spec, echo)
    return outcome


def _load_first(found: Sequence[Any], warn: Echo) -> tuple[Resumed, Any]:
    """The first checkpoint of `found` that loads (checked, safe mode); the others are warned of."""
    from expctl.training.checkpoint import load_resumed

    problems = []
    for checkpoint in found:
        try:
            return load_resumed(
                checkpoint.state, checkpoint.model_path, checkpoint.best_path
            ), checkpoint
        except (BadInputError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, BadInputError) else str(exc)
            warn(f"{checkpoint.model_path}: cannot be loaded ({message}); skipped")
            problems.append(message)
    raise BadInputError("no checkpoint could be loaded: " + "; ".join(problems))


def _utc_now() -> str:
    from expctl.runs.store import utc_now

    return utc_now()


#: history.csv columns that `verify` does not compare (wall-clock times differ on every run).
UNCOMPARED_COLUMNS = ("epoch_time_s",)


@dataclass(frozen=True)
class Divergence:
    """Where a re-run first differs from the recorded run."""

    epoch: int
    column: str
    recorded: Any
    rerun: Any

    def __str__(self) -> str:
        return f"epoch {self.epoch}, {self.column}: recorded {self.recorded}, re-run {self.rerun}"


@dataclass(frozen=True)
class VerifyReport:
    epochs: int
    divergences: list[Divergence]
    #: False when the run recorded no weight digests (checkpoints off, or an older expctl)
    weights_compared: bool

    @property
    def ok(self) -> bool:
        return not self.divergences


def _read_history(path: Path) -> list[dict[str, str]]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"{path}: cannot read the history ({exc})") from None


def _same_value(recorded: str | None, value: float | None) -> bool:
    if recorded in (None, "") or value is None:
        return recorded in (None, "") and value is None
    try:
        number = float(recorded)
    except ValueError:
        return False
    return number == float(value) or (math.isnan(number) and math.isnan(float(value)))


def verify(run_path: Path, epochs: int = 2, echo: Echo = _quiet) -> VerifyReport:
    """Re-run the first `epochs` epochs of a run from its stored spec; compare history and weights.

    Training goes to a temporary directory (the run is not touched). Every history.csv column
    but the epoch time is compared exactly, then the sha256 of the weights after each epoch
    (recorded in checkpoints/state.json). BadInputError (exit 2) when the run is still running,
    its spec no longer validates or its data changed.
    """
    import tempfile

    from expctl.models import build_model
    from expctl.runs import read_json
    from expctl.runs.checkpoint import CheckpointPolicy, read_state
    from expctl.runs.store import live_status
    from expctl.training import train

    run_path = Path(run_path)
    try:
        status = live_status(read_json(run_path / "status.json"))
    except ValueError as exc:
        raise BadInputError(f"cannot read the run's status: {exc}") from None
    if status.get("status") == "running":
        raise BadInputError(f"{run_path}: the run is still running; verify it when it has ended")
    loaded, record = _stored_spec(run_path)
    spec = loaded.spec
    recorded_rows = _read_history(run_path / "history.csv")
    n = min(int(epochs), len(recorded_rows), spec.train.epochs)
    if n < 1:
        raise BadInputError(f"{run_path / 'history.csv'}: no epoch recorded to verify")
    dataset = _same_data(loaded, record, run_path)
    state = read_state(run_path) or {}
    recorded_digests = list(state.get("weights_sha256") or [])
    _configure_keras(spec.seed, deterministic=not spec.train.jit_compile)
    model = build_model(spec.model, dataset)
    echo(f"re-running epochs 1-{n} of {run_path.name} from its spec.yaml")
    with tempfile.TemporaryDirectory(prefix="expctl-verify-") as scratch:
        result = train(
            model,
            dataset,
            spec.train,
            lambda rows: echo(progress_line(rows[-1], spec.train.epochs)),
            seed=spec.seed,
            checkpoint_dir=Path(scratch),
            checkpoint_policy=CheckpointPolicy(epochs=1),
            stop_after=n,
        )
    divergences: list[Divergence] = []
    for i in range(n):
        row = result.rows[i] if i < len(result.rows) else {}
        recorded = recorded_rows[i]
        columns = [c for c in recorded if c not in UNCOMPARED_COLUMNS]
        columns += [c for c in row if c not in recorded and c not in UNCOMPARED_COLUMNS]
        for column in columns:
            if not _same_value(recorded.get(column), row.get(column)):
                divergences.append(Divergence(i + 1, column, recorded.get(column), row.get(column)))
        digests = (recorded_digests[i : i + 1], result.weights_sha256[i : i + 1])
        if all(digests) and digests[0] != digests[1]:
            recorded_digest, rerun_digest = digests[0][0], digests[1][0]
            divergences.append(
                Divergence(i + 1, "weights (sha256)", recorded_digest[:16], rerun_digest[:16])
            )
    return VerifyReport(
        epochs=n, divergences=divergences, weights_compared=len(recorded_digests) >= n
    )
