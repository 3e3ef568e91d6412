"""`proj validate` and `proj info`: what project authors use to check and read an MLproject."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List

import typer

from runner.cli.app import app
from runner.cli.output import emit, emit_json, note
from runner.errors import ExitCode, UsageError
from runner.problems import render_problems


class ProblemFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class InfoFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def validate(
    paths: List[Path] = typer.Argument(
        None, metavar="[PATH]...", help="Project folders, MLproject files or environment files [default: .]"
    ),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    output_format: ProblemFormat = typer.Option(
        ProblemFormat.text, "--format", help="text, json, or github (GitHub Actions annotations)."
    ),
    print_schema: bool = typer.Option(
        False, "--print-schema",
        help="Print the MLproject JSON schema, with the section of every installed environment kind, and exit."),
) -> None:
    """Check MLproject files and the environment files they name; report every problem.

    Exit code 0 when valid, 1 when there are errors (or warnings with --strict), 125 for bad usage.
    """
    from runner.spec import complete_mlproject_schema, inspect_path

    if print_schema:
        emit_json(complete_mlproject_schema())
        raise typer.Exit(ExitCode.OK)

    targets = paths or [Path(".")]
    missing = [str(p) for p in targets if not p.exists()]
    if missing:
        raise UsageError(f"No such file or folder: {', '.join(missing)}")
    problems = []
    for target in targets:
        for problem in inspect_path(target).problems:
            problem = problem.promoted() if strict else problem
            if problem not in problems:  # an env file given twice, directly and via its project
                problems.append(problem)
    failed = any(p.is_error for p in problems)
    if output_format is ProblemFormat.json:
        emit_json({"valid": not failed, "checked": [str(t) for t in targets],
                   "problems": [p.as_dict() for p in problems]})
    elif problems:
        emit(render_problems(problems, output_format.value))
    if output_format is ProblemFormat.text:
        errors = sum(p.is_error for p in problems)
        warnings = len(problems) - errors
        checked = ", ".join(str(t) for t in targets)
        note(f"{checked}: {'invalid' if failed else 'valid'} ({errors} errors, {warnings} warnings)")
    raise typer.Exit(ExitCode.PROBLEMS_FOUND if failed else ExitCode.OK)


@app.command()
def info(
    path: Path = typer.Argument(Path("."), metavar="[PATH]", help="A project folder or MLproject file."),
    output_format: InfoFormat = typer.Option(InfoFormat.text, "--format", help="text or json."),
) -> None:
    """Show a project's name, environment and entry points with their parameters."""
    from runner.cli.describe import describe_project, project_as_dict
    from runner.spec import load_project

    if not path.exists():
        raise UsageError(f"No such file or folder: {path}")
    project = load_project(path)
    for warning in project.warnings:
        note(warning.as_text())
    if output_format is InfoFormat.json:
        emit_json(project_as_dict(project))
    else:
        emit(describe_project(project))
