"""Rendering an entry point's command: MLflow's exact substitution (placeholders: runner.grammar)."""

from __future__ import annotations

import shlex
import sys

from runner.errors import ParameterError
from runner.grammar import placeholders
from runner.params import ResolvedParams

# Linux passes a program at most this many bytes as one argument, its final NUL included
# (MAX_ARG_STRLEN, 32 pages), and the command reaches bash as one argument: `bash -c COMMAND`.
MAX_ARGUMENT_BYTES = 32 * 4096


def render_command(command: str, params: ResolvedParams) -> str:
    """Substitute shell-quoted values into `command`; append undeclared ones as `--key value`.

    This is MLflow's rendering, so a project renders the same under both tools, with one
    deliberate difference: MLflow appends the extras after a block command's final newline,
    where bash runs them as a command of their own (`--x: command not found`, exit 127); proj
    appends them to the command's last line, so they reach the program.
    """
    if any(p.conversion or p.spec for p in placeholders(command)):  # validation refuses these first
        raise ValueError("a placeholder with a conversion or format spec cannot be rendered safely")
    quoted = {p.name: shlex.quote(p.rendered) for p in params.declared}
    rendered = command.format(**quoted)
    if params.extra:
        extras = " ".join(f"--{p.name} {shlex.quote(p.rendered)}" for p in params.extra)
        rendered = f"{_last_line_open(rendered)} {extras}"
    _check_size(rendered, params)
    return rendered


def _check_size(rendered: str, params: ResolvedParams) -> None:
    """Refuse a command too long for the system to start, before anything is recorded."""
    size = len(rendered.encode("utf-8", "surrogateescape"))
    if size < MAX_ARGUMENT_BYTES or not sys.platform.startswith("linux"):
        return
    largest = max(params, key=lambda p: len(p.rendered), default=None)
    hint = "pass large values in a file, with a path parameter"
    if largest is not None:
        hint = f"the largest value is {largest.name!r} ({len(largest.rendered)} characters): {hint}"
    raise ParameterError(
        f"The command is {size} bytes once its parameters are filled in; a program can receive at most "
        f"{MAX_ARGUMENT_BYTES - 1} bytes as one argument, so it could not be started", hint=hint)


def _last_line_open(command: str) -> str:
    """`command` without the trailing newlines (and a final line continuation) of a block."""
    if not command.endswith("\n"):
        return command  # one line: exactly MLflow's rendering
    trimmed = command.rstrip()
    if trimmed.endswith("\\\\") or not trimmed.endswith("\\"):
        return trimmed
    return trimmed[:-1].rstrip()  # `cmd \` on the last line continued onto nothing
