"""The `expctl` command: a root group that loads each subcommand's module only when it is used.

`expctl --help` and the view commands must start fast, so nothing here (or in a command module's
top level) imports TensorFlow, Keras or matplotlib.
"""

from __future__ import annotations

import importlib
import traceback
import warnings
from typing import Any

import click

from expctl.errors import ExpctlError
from expctl.masking import mask
from expctl.version import __version__

#: command name -> (module, attribute); modules are imported on first use.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("expctl.cli.run", "run"),
    "validate": ("expctl.cli.validate", "validate"),
    "compare": ("expctl.cli.compare", "compare"),
    "list": ("expctl.cli.list_runs", "list_runs"),
    "roc": ("expctl.cli.roc", "roc"),
    "show": ("expctl.cli.show", "show"),
    "sweep": ("expctl.cli.sweep", "sweep"),
    "biasvar": ("expctl.cli.biasvar", "biasvar"),
    "check": ("expctl.cli.check", "check"),
    "ablate": ("expctl.cli.ablate", "ablate"),
    "schema": ("expctl.cli.schema", "schema"),
    "init": ("expctl.cli.init", "init"),
    "export": ("expctl.cli.export", "export"),
    "resume": ("expctl.cli.resume", "resume"),
    "verify": ("expctl.cli.verify", "verify"),
    "ui": ("expctl.cli.ui", "ui"),
    "predict": ("expctl.cli.predict", "predict"),
    "evaluate": ("expctl.cli.evaluate", "evaluate"),
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExpctlError as exc:
            if ctx.meta.get("expctl.debug"):
                traceback.print_exc()
            # a storage or MLflow URL in a message never shows its password
            click.echo(f"error: {mask(exc.message)}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            # expctl.errors.Interrupted carries the signal's exit code (SIGTERM: 143)
            click.echo(f"{exc or 'interrupted'}", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="expctl")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Train Keras models from YAML specs and compare what regularisation and optimisation do.

    Start with `expctl run experiments/quickstart.yaml`; runs are written under outputs/.
    """
    ctx.meta["expctl.debug"] = debug
    if not debug:
        warnings.formatwarning = _one_line_warning


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: Any = None
) -> str:
    """expctl's own warnings as `warning: ...` lines (no source file and line: not a bug)."""
    if category.__module__.startswith("expctl"):
        return f"warning: {message}\n"
    return _DEFAULT_FORMAT(message, category, filename, lineno, line)


_DEFAULT_FORMAT = warnings.formatwarning


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="expctl")
