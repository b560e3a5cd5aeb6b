"""`expctl show RUN`: one run on one screen (spec, status, metrics, epochs, plots, environment)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from expctl.cli.options import output_dir_option


def collect(run_dir: Path) -> dict[str, Any]:
    """Everything `show` prints, read from the run directory; unreadable parts become warnings."""
    import yaml

    from expctl.runs import read_json

    info: dict[str, Any] = {"run": run_dir.name, "path": str(run_dir), "warnings": []}
    for key, name in (
        ("status", "status.json"),
        ("metrics", "metrics.json"),
        ("environment", "environment.json"),
        ("data", "data.json"),
    ):
        path = run_dir / name
        if not path.exists():
            info[key] = None
            continue
        try:
            info[key] = read_json(path)
        except ValueError as exc:
            info[key] = None
            info["warnings"].append(str(exc))
    try:
        info["spec"] = yaml.safe_load((run_dir / "spec.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        info["spec"] = None
        info["warnings"].append(f"{run_dir / 'spec.yaml'}: {exc}")
    if isinstance(info.get("status"), dict):
        from expctl.runs.store import live_status

        info["status"] = live_status(info["status"])
    info["plots"] = sorted(str(p) for p in (run_dir / "plots").glob("*") if p.is_file())
    _biasvar(run_dir, info)
    return info


def _biasvar(run_dir: Path, info: dict[str, Any]) -> None:
    """A bias/variance experiment: its points (decomposition.json) and its member runs."""
    from expctl.runs.biasvar import KIND, read_points

    if (info.get("status") or {}).get("kind") != KIND:
        return
    try:
        info["decomposition"] = read_points(run_dir)
    except ValueError as exc:
        info["decomposition"] = None
        info["warnings"].append(str(exc))
    members = run_dir / "members"
    info["members"] = sorted(p.name for p in members.iterdir()) if members.is_dir() else []


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return "-" if value is None else str(value)


@click.command()
@click.argument("ref", metavar="RUN")
@output_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def show(ref: str, output_dir: str, as_json: bool) -> None:
    """Show one run: status, test metrics, best epoch, plots, environment and the resolved spec.

    RUN is a run id (or a unique prefix) in --output-dir, or the path of a run directory.
    """
    from expctl.runs import to_json
    from expctl.runs.resolve import resolve_run

    info = collect(resolve_run(ref, Path(output_dir)))
    for warning in info["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(to_json(info), nl=False)
        return
    status = info["status"] or {}
    click.echo(f"run       {info['run']}")
    click.echo(f"path      {info['path']}")
    click.echo(
        f"status    {status.get('status', 'unknown')}"
        + (f"  ({status['error']})" if status.get("error") else "")
    )
    click.echo(
        f"started   {_fmt(status.get('started_at'))}   duration {_fmt(status.get('duration_s'))} s"
    )
    data = info.get("data") or {}
    if data:
        click.echo(
            f"data      {data.get('description')}; {data.get('task')}; "
            f"{data.get('n_train')}/{data.get('n_val')}/{data.get('n_test')} train/val/test"
        )
    metrics = info["metrics"] or {}
    epochs = {k: metrics.get(k) for k in ("epochs_trained", "best_epoch", "stopped_epoch")}
    if metrics:
        click.echo(
            "epochs    " + "  ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in epochs.items())
        )
        click.echo("test metrics")
        scalars = {
            k: v
            for k, v in metrics.items()
            if k not in epochs and isinstance(v, int | float | None)
        }
        for key, value in scalars.items():
            click.echo(f"  {key:<24}{_fmt(value)}")
    if info.get("decomposition") is not None:
        from expctl.cli.biasvar import summary_lines

        click.echo(f"biasvar   {len(info['members'])} member runs under {info['path']}/members")
        for line in summary_lines(info["decomposition"]):
            click.echo(f"  {line}")
    for plot in info["plots"]:
        click.echo(f"plot      {plot}")
    env = info["environment"] or {}
    if env:
        git = env.get("git") or {}
        commit = (
            f"; git {git.get('commit', '')[:10]}{' (dirty)' if git.get('dirty') else ''}"
            if git
            else ""
        )
        click.echo(
            f"env       python {env.get('python')}, tensorflow {env.get('tensorflow')}, "
            f"keras {env.get('keras')}; {env.get('cpu')}{commit}"
        )
    if info["spec"] is not None:
        import yaml

        click.echo("spec")
        click.echo(
            "  "
            + yaml.safe_dump(info["spec"], sort_keys=False, default_flow_style=None, width=100)
            .rstrip()
            .replace("\n", "\n  ")
        )
