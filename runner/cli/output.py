"""How the CLI writes to the terminal: results to stdout, proj's own messages to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from runner.errors import EnvironmentSetupError, ProjError


def emit(text: str) -> None:
    """A result, on stdout (what scripts capture)."""
    typer.echo(text)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def note(text: str) -> None:
    """proj's own progress and summaries, on stderr so stdout stays the project's."""
    typer.echo(f"proj: {text}", err=True)


def warn(text: str) -> None:
    typer.echo(typer.style("proj: warning: ", fg=typer.colors.YELLOW) + text, err=True)


def show_error(err: ProjError) -> None:
    if isinstance(err, EnvironmentSetupError) and err.output:
        sys.stderr.write(err.output if err.output.endswith("\n") else err.output + "\n")
    typer.echo(typer.style("proj: error: ", fg=typer.colors.RED, bold=True) + str(err), err=True)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
