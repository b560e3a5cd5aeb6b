"""A completed run applied to other files: `expctl predict` (scores written beside chosen columns)
and `expctl evaluate` (metrics, ROC and predictions on another labelled sample, in the run's
evaluations/ folder). Files are streamed chunk by chunk; TensorFlow is imported only when the
model is loaded."""

from __future__ import annotations

from expctl.inference.evaluate import EvaluationResult, evaluate_files
from expctl.inference.predict import DEFAULT_ROWS, PredictResult, predict_data, predict_files

__all__ = [
    "DEFAULT_ROWS",
    "EvaluationResult",
    "PredictResult",
    "evaluate_files",
    "predict_data",
    "predict_files",
]
