"""`proj validate` and `proj info`: what project authors use to check and read an MLproject."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, List

import typer

from runner.cli.app import app
from runner.cli.output import emit, emit_json, note
from runner.errors import ExitCode, UsageError
from runner.words import plural

if TYPE_CHECKING:
    from runner.problems import Problem


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
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="Check every project below each folder (hidden folders are skipped)."),
    print_schema: bool = typer.Option(
        False, "--print-schema",
        help="Print the MLproject JSON schema, with the section of every installed environment kind, and exit."),
) -> None:
    """Check MLproject files and the environment files they name; report every problem.

    Exit code 0 when valid, 1 when there are errors (or warnings with --strict), 125 for bad usage.

    \b
    Examples:
      proj validate                          # the project here
      proj validate --recursive --strict     # every project of this repository
      proj validate --format github a/ b/MLproject b/conda.yaml    # annotations in GitHub Actions
    """
    from runner.problems import render_problems
    from runner.spec import complete_mlproject_schema, inspect_path

    if print_schema:
        emit_json(complete_mlproject_schema())
        raise typer.Exit(ExitCode.OK)

    given = paths or [Path(".")]
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise UsageError(f"No such file or folder: {', '.join(missing)}")
    targets, problems = _targets(given, recursive)
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
        counts = f"{plural(errors, 'error')}, {plural(len(problems) - errors, 'warning')}"
        checked = ", ".join(str(t) for t in targets) if not recursive else \
            f"{plural(len(targets), 'project')} in {', '.join(str(p) for p in given)}"
        note(f"{checked}: {'invalid' if failed else 'valid'} ({counts})")
        if not recursive:
            _suggest_recursive(given, problems)
    raise typer.Exit(ExitCode.PROBLEMS_FOUND if failed else ExitCode.OK)


def _targets(given: list[Path], recursive: bool) -> tuple[list[Path], list[Problem]]:
    """What to inspect: the paths given, or with --recursive each project folder below them."""
    if not recursive:
        return given, []
    from runner.problems import Problem, Severity
    from runner.spec import find_project_folders

    targets, problems = [], []
    for path in given:
        found = find_project_folders(path) if path.is_dir() else [path]
        if not found:
            problems.append(Problem(path, 0, 0, Severity.ERROR, "no MLproject file in or below this folder"))
        targets += [t for t in found if t not in targets]
    return targets, problems


def _suggest_recursive(given: list[Path], problems: list[Problem]) -> None:
    """A folder without an MLproject, at a repository root say: point at the projects below it."""
    from runner.spec import find_project_folders

    for path in given:
        if path.is_dir() and any(p.file == path and "no MLproject file" in p.message for p in problems):
            below = find_project_folders(path)
            if below:
                note(f"{plural(len(below), 'project')} below {path}; check {'it' if len(below) == 1 else 'them'} "
                     f"with: proj validate --recursive {path}")


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
