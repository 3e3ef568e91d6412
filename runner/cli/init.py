"""`proj init`: start a project in a folder, asking on a terminal and taking flags in CI."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from runner.cli.app import app
from runner.cli.output import emit, note


class EnvironmentOption(str, Enum):
    python = "python"
    conda = "conda"


@app.command()
def init(
    path: Path = typer.Argument(Path("."), metavar="[PATH]",
                                help="The project's folder, created if missing [default: the current folder]."),
    name: Optional[str] = typer.Option(None, "--name", help="The project's name [default: the folder's name]."),
    environment: Optional[EnvironmentOption] = typer.Option(
        None, "--env", help="python: python_env.yaml, a virtualenv built with uv [default]; conda: conda.yaml."),
    python: Optional[str] = typer.Option(None, "--python", help="The Python version [default: proj's own, e.g. 3.11]."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing, even on a terminal: defaults for the rest."),
) -> None:
    """Start a project: MLproject with a typed entry point, python_env.yaml (or conda.yaml), a
    train.py that logs a metric, and .proj/ in .gitignore.

    On a terminal it asks for what no option gives; otherwise (CI, scripts) it takes the
    defaults. It never overwrites a file: a folder that already holds one gets nothing.

    \b
    Examples:
      proj init                                  # here, answering its questions
      proj init vision --env conda --python 3.12 --yes
      proj init && proj validate --strict && proj run .
    """
    from runner.locations import user_path
    from runner.scaffold import Scaffold, write_scaffold

    folder = user_path(path)
    ask = sys.stdin.isatty() and not yes
    default_name = folder.resolve().name or "project"
    default_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if ask:
        name = name or typer.prompt("Project name", default=default_name)
        if environment is None:
            environment = _ask_environment()
        python = python or typer.prompt("Python version", default=default_python)
    scaffold = Scaffold(name or default_name, (environment or EnvironmentOption.python).value,
                        python or default_python)
    written = write_scaffold(folder, scaffold)
    for created in written.files:
        emit(f"created {folder / created}")
    if written.gitignore != "present":
        emit(f"{written.gitignore} .proj/ in {folder / '.gitignore'}" if written.gitignore == "added"
             else f"created {folder / '.gitignore'}")
    where = "" if folder == Path(".") else f"cd {folder} && "
    note(f"next: {where}proj validate --strict && proj run . -P alpha=0.3 && proj runs list")


def _ask_environment() -> EnvironmentOption:
    """Ask until the answer is one of the choices. (Not click.Choice: typer 0.28 vendors click,
    so `click` itself is not one of proj's dependencies.)"""
    choices = [e.value for e in EnvironmentOption]
    while True:
        answer = str(typer.prompt(f"Environment (python: python_env.yaml with uv; conda: conda.yaml) "
                                  f"({', '.join(choices)})", default="python")).strip()
        if answer in choices:
            return EnvironmentOption(answer)
        typer.echo(f"Error: {answer!r} is not one of {', '.join(repr(c) for c in choices)}.", err=True)
