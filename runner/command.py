"""Rendering an entry point's command: MLflow's exact substitution (placeholders: runner.grammar)."""

from __future__ import annotations

import shlex

from runner.params import ResolvedParams


def render_command(command: str, params: ResolvedParams) -> str:
    """Substitute shell-quoted values into `command`; append undeclared ones as `--key value`.

    This is MLflow's rendering exactly, so a project renders the same under both tools.
    """
    quoted = {p.name: shlex.quote(p.rendered) for p in params.declared}
    parts = [command.format(**quoted)]
    parts.extend(f"--{p.name} {shlex.quote(p.rendered)}" for p in params.extra)
    return " ".join(parts)
