"""`expctl sweep SPEC`: grid, random or Bayesian search over spec keys, on one or more workers."""

from __future__ import annotations

import re

import click

from expctl.cli.options import output_dir_option, set_option, smoke_option

_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
    help="Optuna RDB URL (postgresql://..., mysql://..., sqlite:///...) to share the study "
    "between machines; default: a journal file in the sweep directory.",
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
    from expctl.errors import BadInputError, RunFailedError
    from expctl.spec.sweep import load_sweep_spec
    from expctl.sweep.space import Space, check_space
    from expctl.sweep.workers import SweepPlan

    _quiet_optuna()
    lsweep = load_sweep_spec(spec_path, overrides)
    if smoke:
        from expctl.spec.smoke import smoke_overrides

        extra = smoke_overrides(lsweep.loaded.spec)
        if lsweep.sweep.method != "grid":
            extra.append(f"sweep.trials={min(2, lsweep.sweep.n_trials)}")
        overrides = (*overrides, *extra)
        lsweep = load_sweep_spec(spec_path, overrides)
    space = Space(lsweep.sweep.space)
    checked = check_space(lsweep, space)
    name = study_name or lsweep.loaded.spec.name
    if not _STUDY_NAME.match(name):
        raise BadInputError(
            f"--study {name!r}: letters, digits, '_', '.' or '-', at most 64 characters"
        )
    if dry_run:
        _dry_run(lsweep, space, checked, workers, quiet)
        return

    plan = SweepPlan(spec_path, tuple(overrides), output_dir, name, storage, quiet)
    echo = (lambda _: None) if quiet else click.echo
    study, info = _open(lsweep, space, plan)
    budget = lsweep.sweep.n_trials
    before = len(study.get_trials(deepcopy=False))
    click.echo(
        f"sweep {plan.sweep_dir}: {lsweep.sweep.method}, {budget} trials, "
        f"{workers} worker{'s' if workers > 1 else ''}, storage {info.url}"
        + (f"; resuming ({before} trials recorded)" if before else "")
    )
    bad_input = False
    try:
        if workers == 1:
            from expctl.sweep.workers import run_worker

            run_worker(plan, 0, echo=echo)
        else:
            from expctl.sweep.workers import run_workers

            report = run_workers(plan, workers, lambda: _work_left(study, info, plan), echo)
            bad_input = report.bad_input
    finally:
        summary = _finish(lsweep, space, plan, study)
    for line in summary["lines"]:
        click.echo(line)
    if bad_input:
        raise BadInputError("a worker stopped on bad input (its message is above)")
    if _work_left(study, info, plan):
        raise RunFailedError(
            "the study has trials left (a worker died or was stopped); "
            "run the same command again to resume it"
        )
    if not summary["counts"].get("COMPLETE"):
        raise RunFailedError("no trial completed; see the reasons in sweep.csv and the trial runs")


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _open(lsweep, space, plan):  # type: ignore[no-untyped-def]
    from expctl.runs import atomic_write_text
    from expctl.sweep.outputs import sweep_yaml
    from expctl.sweep.storage import open_storage
    from expctl.sweep.study import init_study, load_study

    plan.trials_dir.mkdir(parents=True, exist_ok=True)
    info = open_storage(plan.storage, plan.sweep_dir)
    study = load_study(lsweep, info, plan.study)
    if init_study(study, lsweep, space, plan.sweep_dir):
        atomic_write_text(plan.sweep_dir / "sweep.yaml", sweep_yaml(lsweep))
    return study, info


def _work_left(study, info, plan) -> bool:  # type: ignore[no-untyped-def]
    """Reap trials of dead workers, then whether trials remain to be run."""
    from expctl.spec.sweep import load_sweep_spec
    from expctl.sweep.objective import on_dead_trial
    from expctl.sweep.storage import reap_dead_trials, sweep_lock
    from expctl.sweep.study import work_left

    lsweep = load_sweep_spec(plan.spec_path, plan.overrides)
    mark = on_dead_trial(plan.trials_dir, lsweep.loaded.spec.name, lsweep.sweep.repeats)
    with sweep_lock(plan.sweep_dir):
        reap_dead_trials(study, info, mark)
        return work_left(study.get_trials(deepcopy=False), lsweep.sweep.n_trials)


def _finish(lsweep, space, plan, study) -> dict:  # type: ignore[no-untyped-def]
    from expctl.sweep.outputs import write_outputs

    result = write_outputs(plan.sweep_dir, study, space, lsweep)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result["counts"].items()))
    lines = [f"{sum(result['counts'].values())} trials: {counts or 'none'}"]
    best = result["best"]
    if best is not None:
        params = space.decode(best.params)
        lines.append(
            f"best trial {best.number}: {lsweep.sweep.metric} {best.value:.6g} "
            f"(runs {', '.join(best.user_attrs.get('runs', []))})"
        )
        lines += [f"  {k} = {v}" for k, v in params.items()]
        lines.append(f"best spec: {plan.sweep_dir / 'best.yaml'}")
    lines.append(f"table: {plan.sweep_dir / 'sweep.csv'}; plots: {plan.sweep_dir / 'plots'}")
    return {"lines": lines, **result}


def _dry_run(lsweep, space, checked: int, workers: int, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    from expctl.sweep.probe import probe
    from expctl.sweep.workers import cpu_count

    sweep = lsweep.sweep
    click.echo(
        f"sweep of {lsweep.doc.source}: method {sweep.method}, {sweep.n_trials} trials"
        + (f" x {sweep.repeats} seeds" if sweep.repeats > 1 else "")
        + f", {'maximise' if sweep.maximize else 'minimise'} {sweep.metric} (validation, best epoch)"
        + f", pruner {sweep.pruner}, seed {sweep.seed}"
    )
    click.echo("space:")
    width = max(len(k) for k in space.keys)
    for dim in space.dims:
        click.echo(f"  {dim.key:<{width}}  {dim.describe()}")
    click.echo(f"checked {checked} corner specs of the space: all valid")
    result = probe(lsweep, space)
    if result.params_min == result.params_max:
        click.echo(f"model parameters: {result.params_min:,}")
    else:
        click.echo(
            f"model parameters: {result.params_min:,} to {result.params_max:,} "
            f"(over {result.models} corners of the space)"
        )
    cores = cpu_count()
    total = result.total_s(sweep.n_trials, sweep.repeats, workers, cores)
    click.echo(
        f"timing probe ({result.points} sampled trials, 2 epochs): {result.epoch_s:.2f} s/epoch, "
        f"{result.overhead_s:.1f} s fixed per trial -> {result.trial_s:.1f} s per trial of "
        f"{lsweep.loaded.spec.train.epochs} epochs"
    )
    click.echo(
        f"estimated total: {_hms(total)} with {workers} worker{'s' if workers > 1 else ''} on "
        f"{cores} cores (upper bound: no early stopping or pruning)"
    )


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"
