"""The typer applications; command modules attach their commands to these."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Optional

import typer

from runner.cli.output import Settings
from runner.version import __version__

if TYPE_CHECKING:
    from runner.tracking.base import TrackingStore

__all__ = ["ColorMode", "Settings", "app", "env_app", "runs_app", "store_for"]

app = typer.Typer(
    name="proj",
    help="Run MLproject projects reproducibly, and record every run.",
    epilog="Start with: proj init, then proj run . and proj runs list. Each command has --help with examples; "
           "docs/ has the rest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are shown by runner.cli.main, tracebacks only with --debug
    rich_markup_mode=None,  # help texts are plain: "[default: ...]" must not be read as markup
    context_settings={"help_option_names": ["-h", "--help"]},
)
runs_app = typer.Typer(help="Look at recorded runs.", no_args_is_help=True, rich_markup_mode=None)
env_app = typer.Typer(help="Manage the environment cache.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(runs_app, name="runs")
app.add_typer(env_app, name="env")


class ColorMode(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"proj {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_show_version, is_eager=True, help="Show proj's version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="PROJ_DEBUG", help="Show tracebacks for errors (for bug reports)."
    ),
    color: ColorMode = typer.Option(
        ColorMode.auto, "--color", envvar="PROJ_COLOR",
        help="Colour statuses and warnings: auto (on a terminal, unless NO_COLOR is set), always or never."),
) -> None:
    from runner.cli.output import Colour

    Settings.debug = debug
    Colour.mode = color.value


def store_for(tracking_uri: Optional[str]) -> TrackingStore:
    """The store a command's --tracking-uri names, else the one found from the current folder."""
    from runner.tracking import open_store, resolve_tracking_uri  # here: `proj --help` loads no store

    return open_store(resolve_tracking_uri(tracking_uri))
