"""The `proj` command line: options in, results and exit codes out.

This package is the only place that prints or exits. Library errors (ProjError) become a
one-line message and their documented exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from runner.errors import ExitCode, ProjError

# The modules that register each top-level command. A command line loads only those its command
# needs: typer introspects every registered command at each start, so loading all of them would
# add ~25 ms to every `proj run`. Help, completion and unknown commands load everything.
_COMMAND_MODULES = {
    "run": ("run",),
    "rerun": ("reproduce", "compare"),
    "validate": ("project",),
    "info": ("project",),
    "ui": ("ui",),
    "runs": ("runs", "runs_list", "runs_manage", "reproduce", "compare", "runs_control"),
    "gc": ("gc",),
    "env": ("env",),
    "init": ("init",),
}
_ALL_MODULES = ("project", "run", "reproduce", "compare", "runs", "runs_list", "runs_manage", "runs_control", "env",
                "gc", "ui", "init")
# `proj runs SUBCOMMAND` loads only the module of its subcommand (`proj runs list` is timed at scale).
_RUNS_SUBCOMMANDS = {
    "list": "runs_list", "show": "runs", "logs": "runs", "sync": "runs", "artifacts": "runs",
    "delete": "runs_manage", "restore": "runs_manage", "tag": "runs_manage", "rename": "runs_manage",
    "wait": "runs_control", "cancel": "runs_control", "refresh": "runs_control", "export": "reproduce",
    "diff": "compare",
}


def main() -> None:
    from runner.cli import streams

    streams.install()  # first: before any file is opened, a closed 0, 1 or 2 gets /dev/null
    from runner.cli.output import Settings, show_error

    try:
        _check_text(sys.argv[1:])
        code = _command_line(sys.argv[1:])
    except ProjError as err:
        if Settings.debug:
            import traceback

            traceback.print_exc()
        show_error(err)
        if Settings.output_format != "text":
            from runner.cli.formats import report_error
            from runner.cli.output import message

            report_error(message(str(err)), int(err.exit_code))
        code = int(err.exit_code)
    except Exception as err:
        code = _exit_for_unexpected(err)
    _end(code if isinstance(code, int) else 0)


def _end(code: int) -> NoReturn:
    """Exit with `code`, as sys.exit would but without the interpreter's teardown: freeing every
    module and object proj loaded costs ~20 ms of CPU, a sixth of a `proj run` (docs/benchmarks.md).
    What an exit must still do is done: other threads are waited for (then it is a normal exit),
    exit handlers run (the supervisor's shutdown, temporary folders), the standard streams are
    flushed. proj closes its own files and databases where it uses them."""
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # what the interpreter's own final flush would report
        sys.exit(code)
    os._exit(code)


def _command_line(arguments: list[str]) -> object:
    """What the command returned: a plain `proj run` through the quick path, the rest through typer."""
    from runner.cli.quick_run import plain_run_options

    options = plain_run_options(arguments)
    if options is not None:
        return _quick_run(options)
    from runner.cli.app import app

    for module in _modules_for(arguments):
        importlib.import_module(f"runner.cli.{module}")  # each registers its commands on import
    return app(prog_name="proj", standalone_mode=False)  # typer.Exit(N) returns N


def _quick_run(options: dict[str, object]) -> int:
    """`proj run` without typer, ending as typer's run would: Ctrl-C is 130, end of input at a
    prompt an interruption, a reader gone from stdout exit code 1."""
    from runner.cli.run_command import run_command

    try:
        return run_command(**options)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except EOFError:
        sys.stderr.write("\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return 1


def _exit_for_unexpected(err: Exception) -> int:
    """A command-line mistake the parser found (typer's or click's own error, which would exit 2
    and read as an entry point's 2), an abort, or else a bug in proj: shown with its traceback."""
    if type(err).__name__ == "Abort":  # typer's or click's: Ctrl-C or end of input at a prompt
        return int(ExitCode.INTERRUPTED)
    show = getattr(err, "show", None)
    if callable(show) and isinstance(getattr(err, "exit_code", None), int):  # UsageError, BadParameter, ...
        show()
        return int(ExitCode.USAGE)
    import traceback

    traceback.print_exc()
    sys.stderr.write("proj: internal error (a bug in proj; please report it with the traceback above)\n")
    return int(ExitCode.USAGE)


def _check_text(arguments: list[str]) -> None:
    """Arguments and proj's settings must be UTF-8 (the record keeps them as text), and limits
    must be readable: both are refused before anything runs."""
    from runner.limits import check_limits
    from runner.texts import check_arguments, check_environment

    check_arguments(arguments)
    check_environment(os.environ, [name for name in os.environ if name.startswith(("PROJ_", "MLFLOW_TRACKING"))])
    check_limits()


# proj's own options that take a value (`proj --color never run ...`): the value is not a command.
_GLOBAL_VALUED = ("--color",)


def _modules_for(arguments: list[str]) -> tuple[str, ...]:
    values = {i + 1 for i, a in enumerate(arguments) if a in _GLOBAL_VALUED}
    words = [a for i, a in enumerate(arguments) if not a.startswith("-") and i not in values][:2]
    if len(words) == 2 and words[0] == "runs" and words[1] in _RUNS_SUBCOMMANDS:
        return (_RUNS_SUBCOMMANDS[words[1]],)
    return _COMMAND_MODULES.get(words[0] if words else "", _ALL_MODULES)
