"""`expctl ablate SPEC`: rank the spec's regularisers by what switching each off costs."""

from __future__ import annotations

import click

from expctl.cli.options import output_dir_option, set_option


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--repeat",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Seeds per variant (seed, seed+1, ...); effects are given ± their standard error.",
)
@output_dir_option
@set_option
@click.option("--quiet", "-q", is_flag=True, help="No line per run.")
def ablate(
    spec_path: str, repeat: int, output_dir: str, overrides: tuple[str, ...], quiet: bool
) -> None:
    """Run SPEC, then SPEC with each regulariser it uses switched off, and rank them.

    A regulariser's effect is how much worse the validation metric at the best epoch (val_auc,
    val_accuracy or val_mae) and the main test metric (AUC, accuracy or r²) get without it:
    positive means it helps. Writes
    <output-dir>/<id>-ablate-<name>/ with ablation.json/.csv, plots/ablation.png and every run
    under runs/.
    """
    from expctl.ablate import run_ablation

    outcome = run_ablation(
        spec_path,
        output_dir,
        repeat=repeat,
        overrides=overrides,
        echo=(lambda _: None) if quiet else click.echo,
    )
    for line in outcome.lines:
        click.echo(line)
