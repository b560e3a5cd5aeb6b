"""One run, top to bottom: spec -> data -> model -> train -> evaluate -> run directory.

Everything that can be refused (spec, data) is checked before the run directory exists, so bad
input writes nothing. Once the directory exists, every outcome is recorded in its status file:
completed, diverged (non-finite loss), failed (with the error and traceback) or interrupted.
`expctl.runner.resume` continues such a run with the same `train_and_evaluate`, `record_outcome`
and `after_run`.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl import interrupts
from expctl.data import Dataset, Split, is_streamed, prepare
from expctl.data.fingerprint import data_record
from expctl.errors import Interrupted, RunFailedError, SpecError
from expctl.evaluation.metrics import UndefinedMetricWarning
from expctl.evaluation.tasks import evaluate
from expctl.masking import mask
from expctl.progress import progress_line
from expctl.runs import RunDir, atomic_save, atomic_write_json, atomic_write_text, layout
from expctl.runs.environment import environment
from expctl.spec import LoadedSpec, resolved_yaml
from expctl.training.setup import configure_keras, precision_policy
from expctl.version import __version__

if TYPE_CHECKING:
    from expctl.training.checkpoint import Resumed
    from expctl.training.fit import TrainResult

Echo = Callable[[str], None]


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
    """A finished run: its directory, final status, task and test metrics."""

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

        # refused before anything is written: no mlflow (the install hint), a password that
        # cannot be found, a database that refuses the connection
        require_mlflow(spec.tracking.mlflow)

    configure_keras(spec.seed, deterministic=not spec.train.jit_compile)

    def body() -> RunOutcome:
        interrupts.check()  # a signal held since the directory was created is recorded now
        atomic_write_text(run_dir.file(layout.SPEC), resolved_yaml(spec))
        atomic_write_json(run_dir.file(layout.DATA), data_record(dataset, loaded.base_dir))
        atomic_write_json(run_dir.file(layout.ENVIRONMENT), environment(loaded.base_dir))
        return train_and_evaluate(loaded, dataset, run_dir, started, echo, hooks)

    # held from the directory's creation on, so a signal cannot leave it `running`
    with interrupts.deferred():
        run_dir = RunDir.create(Path(output_dir), spec.name)
        started = time.perf_counter()
        run_dir.start(spec.name, __version__)
        if is_streamed(dataset):
            echo(dataset.extra["streamed"]["reason"])
        echo(
            f"run {run_dir.id}: {dataset.description}; task {dataset.task}; "
            f"{len(dataset.train)}/{len(dataset.val)}/{len(dataset.test)} train/val/test events"
        )
        outcome = record_outcome(run_dir, started, body)
    after_run(run_dir.path, spec, echo)
    return outcome


def record_outcome(run_dir: RunDir, started: float, body: Callable[[], RunOutcome]) -> RunOutcome:
    """Run `body`, recording how it ends in the run's status: interrupted, failed (with traceback).

    A diverged run (RunFailedError) has recorded its status itself; every other exception
    becomes RunFailedError, KeyboardInterrupt is re-raised.
    """
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
            atomic_write_text(run_dir.file(layout.TRACEBACK), tb)
        finally:
            run_dir.finish("failed", time.perf_counter() - started, error=error)
        raise RunFailedError(f"run {run_dir.path} failed: {error}") from exc


def after_run(path: Path, spec: Any, echo: Echo) -> None:
    """What reads the finished run directory: its report, then the MLflow export."""
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
                f"`expctl export {path} --mlflow {mask(uri)}`"
            ) from None
        echo(
            f"logged to MLflow {mask(uri)}: experiment {spec.tracking.mlflow_experiment}, run {mlflow_id}"
        )


def train_and_evaluate(
    loaded: LoadedSpec,
    dataset: Dataset,
    run_dir: RunDir,
    started: float,
    echo: Echo,
    hooks: RunHooks,
    resumed: Resumed | None = None,
) -> RunOutcome:
    """Train the spec's model in `run_dir` (from `resumed`'s checkpoint if given), evaluate it
    and write its results; the run ends `completed`, or `diverged` with RunFailedError."""
    spec = loaded.spec
    # TensorFlow and matplotlib at work: a signal is held until a safe point (expctl.interrupts)
    with interrupts.deferred():
        model, result = _fit(spec, dataset, run_dir, echo, hooks, resumed)
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
        metrics, test, head_scores, figures = _evaluate(model, dataset, spec, training)
        atomic_write_json(run_dir.file(layout.METRICS), metrics)
        layout.write_predictions(
            run_dir.file(layout.PREDICTIONS), _prediction_arrays(dataset, test, head_scores)
        )
        atomic_save(run_dir.file(layout.MODEL), lambda tmp: model.save(tmp))
        if hooks.plots:
            _draw(run_dir, result, spec.name, figures)
    run_dir.finish("completed", time.perf_counter() - started, training=training)
    return RunOutcome(run_dir=run_dir.path, status="completed", task=dataset.task, metrics=metrics)


def _fit(
    spec: Any,
    dataset: Dataset,
    run_dir: RunDir,
    echo: Echo,
    hooks: RunHooks,
    resumed: Resumed | None,
) -> tuple[Any, TrainResult]:
    """Build the model (a new run writes its summary) and train it, the history written each epoch."""
    from expctl.models import build_model
    from expctl.models.summary import model_summary
    from expctl.training import train

    with precision_policy(spec.train.precision):
        model = build_model(spec.model, dataset)
    epochs = spec.train.epochs

    def on_epoch(rows: list[dict[str, float]]) -> None:
        layout.write_history(run_dir.file(layout.HISTORY), rows)
        echo(progress_line(rows[-1], epochs))

    if resumed is None:
        atomic_write_text(run_dir.file(layout.MODEL_SUMMARY), model_summary(model, spec))
    tracking = spec.tracking
    result = train(
        model,
        dataset,
        spec.train,
        on_epoch,
        hooks.callbacks,
        tensorboard_dir=run_dir.file(layout.TENSORBOARD) if tracking.tensorboard else None,
        histograms=tracking.histograms,
        seed=spec.seed,
        checkpoint_dir=run_dir.path,
        checkpoint_policy=hooks.checkpoint,
        resumed=resumed,
    )
    return model, result


def _evaluate(
    model: Any, dataset: Dataset, spec: Any, training: dict[str, Any]
) -> tuple[dict[str, Any], Any, dict[str, np.ndarray], dict[str, Any]]:
    """The run's metrics (test metrics, then `training`, heads, techniques, diagnostics), the
    test split's targets and weights, its scores by head, and the figures to draw (name ->
    function drawing it)."""
    from expctl.plots.run_figures import binary_figures, multiclass_figures
    from expctl.training.predict import (
        TRAIN_SCORE_SAMPLE,
        head_metrics,
        main_head,
        main_scores,
        technique_metrics,
        train_sample,
    )

    threshold = spec.evaluate.threshold
    test, head_scores = _test_scores(model, dataset)
    scores = main_head(dataset, head_scores)
    metrics = {**evaluate(dataset.task, test.y, scores, threshold, test.w), **training}
    if dataset.heads:
        # the main (first) head's metrics stay at the top level, for list/compare/roc
        scored = dataclasses.replace(dataset, test=test) if is_streamed(dataset) else dataset
        metrics["heads"] = head_metrics(scored, head_scores, threshold)
    if is_streamed(dataset):  # what needs the test features: a bounded sample of them
        sampled = dataclasses.replace(dataset, test=dataset.sample("test", STREAMED_SAMPLE))
        metrics.update(technique_metrics(model, sampled, spec, metrics))
    else:
        metrics.update(technique_metrics(model, dataset, spec, metrics))
    figures: dict[str, Any] = {}
    if dataset.task == "binary":
        from expctl.evaluation.tasks import binary_diagnostics

        if is_streamed(dataset):
            train = dataset.sample("train", TRAIN_SCORE_SAMPLE)
        else:  # a bounded sample in memory too: its cost does not grow with the data
            index = train_sample(dataset, spec.seed, TRAIN_SCORE_SAMPLE)
            whole = len(index) == len(dataset.train)  # no copy of a split taken whole
            train = (
                dataset.train if whole else Split(dataset.train.x[index], dataset.train.y[index])
            )
        if len(train) < len(dataset.train):
            metrics["overtraining_sample"] = len(train)
        train_scores = main_scores(model, dataset, train.x)
        train_y = train.y
        metrics.update(
            binary_diagnostics(test.y, scores, test.w, train_y, train_scores, threshold, spec.seed)
        )
        figures = binary_figures(
            spec.name,
            test.y,
            scores,
            train_y,
            train_scores,
            metrics,
            dataset.classes,
            threshold,
            test.w,
            train_events=len(dataset.train),
        )
    elif dataset.task == "multiclass":
        figures = multiclass_figures(spec.name, metrics, dataset.classes)
    return metrics, test, head_scores, figures


#: Streamed runs: events of the test split for the techniques' metrics (FGSM, adversarial), at
#: most about this many (the overtraining test's training events: TRAIN_SCORE_SAMPLE).
STREAMED_SAMPLE = 100_000


def _test_scores(model: Any, dataset: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """The test split's targets and weights (a `Split`) and its scores by head; a streamed test
    split is read and scored chunk by chunk, only its targets, weights and scores kept."""
    from expctl.data import Split
    from expctl.training.predict import predict_heads

    if not is_streamed(dataset):
        return dataset.test, predict_heads(model, dataset, dataset.test.x)
    from expctl.training.callbacks import InterruptPoints
    from expctl.training.pipeline import streamed_inputs
    from expctl.training.predict import PREDICT_BATCH

    ys, ws = [], []
    targets: dict[str, list[np.ndarray]] = {h.name: [] for h in dataset.heads}

    def record(batch: Any) -> None:
        ys.append(batch.y)
        if batch.w is not None:
            ws.append(np.asarray(batch.w, dtype=np.float64))
        for name, values in (batch.targets or {}).items():
            targets[name].append(values)

    # one predict over the whole split, in the batches an in-memory run predicts in: the same
    # scores, and no new pipeline per chunk (each costs memory TensorFlow keeps)
    inputs = streamed_inputs(dataset, "test", PREDICT_BATCH, record)
    out = model.predict(inputs, verbose=0, callbacks=[InterruptPoints()])
    scores = {}
    for h in dataset.heads or [None]:
        values = np.asarray(out[h.name] if h is not None else out, dtype=np.float64)
        task = h.task if h is not None else dataset.task
        scores[h.name if h is not None else ""] = (
            values[:, 0] if task in ("binary", "regression") else values
        )
    x = np.zeros((0, dataset.n_features), dtype=np.float32)
    test = Split(
        x,
        np.concatenate(ys),
        np.concatenate(ws) if ws else None,
        {k: np.concatenate(v) for k, v in targets.items()} if dataset.heads else None,
    )
    return test, scores


def _prediction_arrays(
    dataset: Dataset, test: Any, head_scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The run's predictions: y_true, y_score (the main head), and with several heads
    `y_true_<head>`, `y_score_<head>` for each; weight and classes when the data have them."""
    from expctl.training.predict import main_head

    arrays: dict[str, Any] = {"y_true": test.y, "y_score": main_head(dataset, head_scores)}
    for h in dataset.heads:
        arrays[f"y_true_{h.name}"] = test.targets[h.name]
        arrays[f"y_score_{h.name}"] = head_scores[h.name]
    if test.w is not None:
        arrays["weight"] = test.w
    if dataset.classes is not None:
        arrays["classes"] = np.asarray([str(c) for c in dataset.classes])
    return arrays


def _draw(run_dir: RunDir, result: TrainResult, name: str, figures: dict[str, Any]) -> None:
    """The learning curves, then each figure; a held signal is raised between two figures."""
    # matplotlib too: an exception raised inside its drawing can be replaced by another one
    # (a ValueError from a half-done layout), so the run would end `failed`, not `interrupted`
    interrupts.check()
    _save_learning_curves(run_dir, result, name)
    for file, draw in figures.items():
        interrupts.check()
        try:
            figure = draw()
        except ValueError as exc:  # e.g. no signal event in the test split: nothing to draw
            warnings.warn(
                f"{layout.PLOTS}/{file} not drawn: {exc}", UndefinedMetricWarning, stacklevel=1
            )
            continue
        _save_figure(layout.plot_path(run_dir.path, file), figure)


def _save_figure(path: Path, figure: Any) -> None:
    atomic_save(path, lambda tmp: figure.savefig(tmp, dpi=120))


def _save_learning_curves(run_dir: RunDir, result: TrainResult, name: str) -> None:
    """The learning curves of a training result, its best and early-stopped epochs marked."""
    if not result.rows:
        return
    from expctl.plots.run_figures import learning_curves_figure

    figure = learning_curves_figure(result.rows, result.best_epoch, name, result.stopped_epoch)
    _save_figure(layout.plot_path(run_dir.path, "learning_curves.png"), figure)


__all__ = [
    "NO_HOOKS",
    "Echo",
    "RunHooks",
    "RunOutcome",
    "after_run",
    "check_against_data",
    "record_outcome",
    "run",
    "train_and_evaluate",
]
