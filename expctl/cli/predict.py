"""`expctl predict RUN FILE... --out OUT`: a completed run's scores for the events of other files."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import chunk_size_option, output_dir_option


def split_names(text: str | None) -> list[str]:
    """`a,b, c` -> ["a", "b", "c"]."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@click.command()
@click.argument("ref", metavar="RUN")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: .parquet, .csv or .root (one score per input event, in input order).",
)
@click.option(
    "--keep", metavar="COL,COL", help="Input columns written beside the scores, e.g. run,event."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "root"]),
    help="Output format (default: from OUT's suffix).",
)
@click.option(
    "--tree",
    help="TTree of ROOT inputs, and of a ROOT OUT (default: the run's data.tree or Events).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@chunk_size_option
@output_dir_option
def predict(
    ref: str,
    files: tuple[str, ...],
    out: Path,
    keep: str | None,
    fmt: str | None,
    tree: str | None,
    force: bool,
    rows: int,
    output_dir: str,
) -> None:
    """Score the events of FILE... with RUN's model and write them to OUT.

    FILEs are read with the run's own data settings: its features (by name, or its array x for
    runs on .npz), its NaN policy (`drop`: NaN score, the event stays, so OUT aligns with the
    input), file by file in the order given. Formats come from the suffixes: .parquet, .csv,
    .root, .h5/.hdf5, .npz. Columns: `score` (binary, regression), `score_<class>`
    (multiclass), `score_<head>` (multitask). A ROOT OUT holds a tree with one entry per input
    event: a friend of the input tree.
    """
    from expctl.inference import predict_files
    from expctl.runs import resolve_run

    run_dir = resolve_run(ref, Path(output_dir))
    result = predict_files(
        run_dir,
        list(files),
        out,
        keep=split_names(keep),
        fmt=fmt,
        force=force,
        tree=tree,
        rows=rows,
    )
    click.echo(
        f"wrote {result.events:,} events to {result.out} (columns: {', '.join(result.columns)})"
    )
