"""Rendering an entry point's command: MLflow's exact substitution (placeholders: runner.grammar)."""

from __future__ import annotations

import shlex

from runner.grammar import placeholders
from runner.params import ResolvedParams


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
    if not params.extra:
        return rendered
    extras = " ".join(f"--{p.name} {shlex.quote(p.rendered)}" for p in params.extra)
    return f"{_last_line_open(rendered)} {extras}"


def _last_line_open(command: str) -> str:
    """`command` without the trailing newlines (and a final line continuation) of a block."""
    if not command.endswith("\n"):
        return command  # one line: exactly MLflow's rendering
    trimmed = command.rstrip()
    if trimmed.endswith("\\\\") or not trimmed.endswith("\\"):
        return trimmed
    return trimmed[:-1].rstrip()  # `cmd \` on the last line continued onto nothing
