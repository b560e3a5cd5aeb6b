"""`expctl sweep SPEC`: grid, random or Bayesian search over spec keys, on one or more workers."""

from __future__ import annotations

import click

from expctl.cli.options import output_dir_option, set_option, smoke_option

#: Where `--storage` is read from when it is not given (keeps a password out of argv and `ps`).
STORAGE_ENV = "EXPCTL_STORAGE"


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Local worker processes sharing the study (TensorFlow threads split between them).",
)
@click.option(
    "--storage",
    metavar="URL",
    envvar=STORAGE_ENV,
    show_envvar=True,
    help="Optuna RDB URL (postgresql://..., mysql://..., sqlite:///...) to share the study "
    "between machines; default: a journal file in the sweep directory. Taken from "
    f"${STORAGE_ENV} when not given, so a password need not be on the command line (or leave "
    "it out of the URL: PostgreSQL reads PGPASSWORD or ~/.pgpass). Its password is shown "
    "and recorded as ***.",
)
@click.option(
    "--study", "study_name", help="Study name, also the sweep directory (default: the spec's name)."
)
@output_dir_option
@set_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the space, the number of trials, the parameter count and an estimated time; "
    "write nothing.",
)
@click.option("--quiet", "-q", is_flag=True, help="No line per trial.")
@smoke_option("2 trials (a grid: all), each with tiny data and one epoch")
def sweep(
    spec_path: str,
    workers: int,
    storage: str | None,
    study_name: str | None,
    output_dir: str,
    overrides: tuple[str, ...],
    dry_run: bool,
    quiet: bool,
    smoke: bool,
) -> None:
    """Search the hyperparameters in SPEC's sweep: block; each trial is a run under
    <output-dir>/<study>/trials/.

    Writes sweep.csv, best.yaml and plots/ in <output-dir>/<study>. Running the same command
    again resumes the study (trials whose worker died are run again). Exit code 0 when the
    budget is used, 2 for bad input, 1 when trials are left (re-run to resume) or none completed.
    """
    from expctl.sweep.lifecycle import dry_run as estimate
    from expctl.sweep.lifecycle import run_sweep

    if dry_run:
        estimate(
            spec_path,
            overrides=overrides,
            study=study_name,
            workers=workers,
            smoke=smoke,
            echo=click.echo,
        )
        return
    result = run_sweep(
        spec_path,
        overrides=overrides,
        output_dir=output_dir,
        study=study_name,
        workers=workers,
        storage=storage,
        smoke=smoke,
        quiet=quiet,
        echo=click.echo,
    )
    for line in result.lines:
        click.echo(line)
    result.raise_for_outcome()
