"""The `proj` command line: options in, results and exit codes out.

This package is the only place that prints or exits. Library errors (ProjError) become a
one-line message and their documented exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
import traceback

from runner.errors import ProjError


def main() -> None:
    from runner.cli import env, project, reproduce, run, runs, runs_control, ui  # noqa: F401  (each registers its commands)
    from runner.cli.app import Settings, app
    from runner.cli.output import show_error

    try:
        app(prog_name="proj")
    except ProjError as err:
        if Settings.debug:
            traceback.print_exc()
        show_error(err)
        sys.exit(int(err.exit_code))
