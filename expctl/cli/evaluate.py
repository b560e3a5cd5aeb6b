"""`expctl evaluate RUN FILE...`: a completed run's metrics on another labelled sample."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import chunk_size_option, output_dir_option


@click.command()
@click.argument("ref", metavar="RUN")
@click.argument("files", metavar="FILE[:LABEL]...", nargs=-1, required=True)
@click.option("--target", metavar="COL", help="Target column (default: the run's data target).")
@click.option("--weight", metavar="COL", help="Per-event weight column (default: unweighted).")
@click.option(
    "--name", help="Evaluation name: the folder evaluations/NAME of the run (default: FILE's stem)."
)
@click.option("--tree", help="TTree of ROOT inputs (default: the run's data.tree or Events).")
@chunk_size_option
@output_dir_option
def evaluate(
    ref: str,
    files: tuple[str, ...],
    target: str | None,
    weight: str | None,
    name: str | None,
    tree: str | None,
    rows: int,
    output_dir: str,
) -> None:
    """Evaluate RUN on the labelled events of FILE... and write RUN/evaluations/NAME/.

    The run's test metrics (AUC and its interval, rejections at 50/90 % signal efficiency,
    confusion matrix for a binary run), predictions.npz and ROC/rejection plots with the run's
    own test curve. Targets come from --target, or from a label per file: `sig.root:1
    bkg.root:0`; a multitask run's other heads from their own target columns (every head's
    metrics under "heads"). The run's own files are not changed; `expctl roc RUN --evaluation
    NAME` overlays the nominal and this sample's ROC curves.
    """
    from expctl.inference import evaluate_files
    from expctl.runs import resolve_run

    run_dir = resolve_run(ref, Path(output_dir))
    result = evaluate_files(
        run_dir, list(files), target=target, weight=weight, name=name, tree=tree, rows=rows
    )
    click.echo(f"evaluation {result.name}: {result.events:,} events  {_shown(result.metrics)}")
    for head, metrics in (result.metrics.get("heads") or {}).items():
        click.echo(f"  head {head}: {_shown(metrics)}")
    click.echo(f"written to {result.path}")


def _shown(m: dict[str, object]) -> str:
    """The headline numbers of a metrics dict, as one line."""
    return "  ".join(
        f"{k} {m[k]:.4f}"
        for k in ("auc", "accuracy", "rejection_at_50", "rejection_at_90", "rmse", "r2", "loss")
        if isinstance(m.get(k), float)
    )
