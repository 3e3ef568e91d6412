"""`proj run` on a plain command line, read without typer.

Importing typer (with the click it vendors, `inspect` and the rest) and building the app costs
more CPU than everything else a `proj run` of a ready project does at start (docs/benchmarks.md,
"Start-up"). A command line made only of `run`, one URI and the common options below is read
here instead, and handed to the same `run_command` the typer command calls. Anything else: help,
completion, a global option, an option not listed here, an attached short value (`-Pa=1`), a
value that looks like an option, or a setting that an option reads from the environment, goes
to typer, so its parsing, help and error messages stay the only ones a user can meet.
"""

from __future__ import annotations

import os
from typing import Any, Optional

# option → run_command's argument, by how the option is given
_VALUED = {"-e": "entry_point", "--entry-point": "entry_point", "-v": "version", "--version": "version",
           "--experiment-name": "experiment_name", "--experiment-id": "experiment_id", "--run-id": "run_id",
           "--run-name": "run_name", "--description": "description", "--env-manager": "env_manager",
           "--tracking-uri": "tracking_uri", "-b": "backend", "--backend": "backend"}
_REPEATED = {"-P": "param", "--param-list": "param", "-t": "tag", "--tag": "tag"}
_FLAGS = {"--strict": "strict", "--frozen": "frozen", "--verbose": "verbose", "--dry-run": "dry_run"}
# Settings that typer would read from the environment: with any of them set, typer reads the line.
_TYPER_VARIABLES = ("_PROJ_COMPLETE", "PROJ_DEBUG", "PROJ_COLOR", "MLFLOW_TMP_DIR")


def plain_run_options(argv: list[str]) -> Optional[dict[str, Any]]:
    """run_command's arguments for `argv` (the words after `proj`), or None when typer must read it."""
    if not argv or argv[0] != "run" or any(name in os.environ for name in _variables()):
        return None
    options: dict[str, Any] = {"param": [], "tag": []}
    words = iter(argv[1:])
    for word in words:
        name, attached, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _FLAGS and not attached:
            options[_FLAGS[name]] = True
            continue
        if name in _VALUED or name in _REPEATED:
            value = value if attached else next(words, "-")
            if value.startswith("-"):
                return None  # missing, or an option where a value belongs: typer says which
            if name in _REPEATED:
                options[_REPEATED[name]].append(value)
            else:
                options[_VALUED[name]] = value  # given twice: the last one counts, as with typer
            continue
        if word.startswith("-") or "uri" in options:
            return None  # an option typer knows (or refuses), or a second argument
        options["uri"] = word
    return options if "uri" in options else None


def _variables() -> tuple[str, ...]:
    """The variables typer reads for `proj run`: its own and those of the kinds' options."""
    from runner.environments import registry

    kinds = registry.builtin_kinds()
    return _TYPER_VARIABLES + tuple(o.envvar for kind in kinds for o in kind.options
                                   if o.flags and o.envvar and "run" in o.commands)
