"""Rendering an entry point's command: MLflow's exact substitution, and its placeholder rules."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from string import Formatter

from runner.params import ResolvedParams


@dataclass(frozen=True)
class Placeholder:
    text: str  # as written, e.g. "{alpha}" or "{alpha!r}"
    name: str  # the field name, e.g. "alpha"


def placeholders(command: str) -> list[Placeholder]:
    """The `{name}` fields of a command; ValueError (with Python's reason) if braces are unbalanced.

    `{{` and `}}` are literal braces and are not placeholders.
    """
    found = []
    for _literal, field, spec, conversion in Formatter().parse(command):
        if field is None:
            continue
        text = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        found.append(Placeholder(text, field))
    return found


def render_command(command: str, params: ResolvedParams) -> str:
    """Substitute shell-quoted values into `command`; append undeclared ones as `--key value`.

    This is MLflow's rendering exactly, so a project renders the same under both tools.
    """
    quoted = {p.name: shlex.quote(p.rendered) for p in params.declared}
    parts = [command.format(**quoted)]
    parts.extend(f"--{p.name} {shlex.quote(p.rendered)}" for p in params.extra)
    return " ".join(parts)
