"""`expctl roc RUN ...`: overlay ROC curves, HEP rejection plots and working-point tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from expctl.cli.options import output_dir_option


def _efficiencies(text: str | None) -> tuple[float, ...]:
    if text is None:
        from expctl.views.roc import DEFAULT_WORKING_POINTS

        return DEFAULT_WORKING_POINTS
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected numbers like 0.5,0.7,0.9", param_hint="--working-points"
        ) from None
    if not values or not all(0 < v <= 1 for v in values):
        raise click.BadParameter(
            "signal efficiencies must be in (0, 1]", param_hint="--working-points"
        )
    return values


@click.command()
@click.argument("refs", metavar="RUN...", nargs=-1, required=True)
@output_dir_option
@click.option(
    "--hep",
    is_flag=True,
    help="Background rejection 1/εB (log) vs signal efficiency, with a ratio panel.",
)
@click.option(
    "--working-points",
    "working_points",
    metavar="EFFS",
    help="Signal efficiencies, e.g. 0.5,0.7,0.9.",
)
@click.option("--signal", help="Multiclass runs: the signal class (name or index).")
@click.option("--background", help="Multiclass runs: the background class (name or index).")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Figure file (.png or .pdf).",
)
@click.option(
    "--evaluation",
    "evaluations",
    metavar="NAME",
    multiple=True,
    help="Overlay each run's test curve with its curve on evaluation NAME (`expctl evaluate`); "
    "repeatable. The figure goes into that evaluation's plots/.",
)
@click.option("--json", "as_json", is_flag=True, help="Print AUCs and working points as JSON.")
@click.option(
    "--bootstrap",
    type=click.IntRange(10, 100_000),
    default=200,
    show_default=True,
    help="Bootstrap resamples for the AUC's 68% interval.",
)
def roc(
    refs: tuple[str, ...],
    output_dir: str,
    hep: bool,
    working_points: str | None,
    signal: str | None,
    background: str | None,
    out: Path | None,
    evaluations: tuple[str, ...],
    as_json: bool,
    bootstrap: int,
) -> None:
    """Draw the ROC curves of one or more runs on one figure, with AUC and its 68% interval.

    RUN is a run id (or a unique prefix) in --output-dir, or the path of a run directory.
    By default the figure goes into the (first) run's plots/ folder.
    """
    from expctl.runs.resolve import resolve_run
    from expctl.views.roc import FIGURE_SUFFIXES
    from expctl.views.roc import roc as roc_view

    efficiencies = _efficiencies(working_points)
    if out is not None and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise click.BadParameter(f"{out}: use a .png, .pdf or .svg file name", param_hint="--out")
    view = roc_view(
        [resolve_run(ref, Path(output_dir)) for ref in refs],
        hep=hep,
        efficiencies=efficiencies,
        signal=signal,
        background=background,
        bootstrap=bootstrap,
        out=out,
        evaluations=evaluations,
    )
    if as_json:
        from expctl.runs import to_json

        click.echo(to_json({"runs": view.results, "figure": str(view.figure)}), nl=False)
        return
    for result in view.results:
        _print_result(result, show_points=working_points is not None)
    click.echo(f"figure: {view.figure}")


def _print_result(result: dict[str, Any], show_points: bool) -> None:
    lo, hi = result["auc_ci68"]
    title = result["run"] + (f" / {result['evaluation']}" if "evaluation" in result else "")
    title += f" [{result['curve']}]" if "curve" in result else ""
    click.echo(
        f"{title}: AUC {result['auc']:.4f}  (68% interval {lo:.4f}-{hi:.4f}, {result['auc_interval_method']})"
    )
    click.echo(
        f"  max F1 {result['max_f1']:.4f} at threshold {result['max_f1_threshold']:.4f};  "
        f"Youden J {result['youden_j']:.4f} at threshold {result['youden_threshold']:.4f}"
    )
    if not show_points:
        return
    click.echo("  eff_S    threshold   eff_B (mistag)        rejection 1/eff_B")
    for wp in result["working_points"]:
        click.echo(
            f"  {wp['signal_efficiency']:.3f}   {wp['threshold']:.5f}    "
            f"{wp['background_efficiency']:.5f} ± {wp['background_efficiency_err']:.5f}   "
            f"{wp['rejection']:.2f} ± {wp['rejection_err']:.2f}"
        )
