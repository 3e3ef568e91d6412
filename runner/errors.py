"""The errors proj raises on purpose, one class per stage.

Library code raises these; only the CLI turns them into a message and an exit code. Each class
carries one of proj's own exit codes (ExitCode); which code a run, a sweep or a check ends with
is decided in runner.lifecycle. docs/exit-codes.md documents both.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.problems import Problem


class ExitCode(IntEnum):
    """proj's own exit codes. A run passes its entry point's code through, so proj's own codes
    follow timeout(1) and env(1): from 124 up, where programs rarely exit by themselves, and
    below 128 + N (a signal). Changing a value is a change of documented behaviour."""

    OK = 0
    PROBLEMS_FOUND = 1  # `proj validate` found errors (validate runs no entry point)
    DIFFERS = 124  # proj's verdict: a re-run or run differs from its card (--check, runs diff --exit-code);
    TIMED_OUT = 124  # ... or `proj runs wait --timeout` gave up while the run goes on, as timeout(1)
    USAGE = 125  # proj refused: bad usage, spec or parameters, or proj failed itself; nothing ran
    SETUP = 126  # fetch, environment, tracking or a missing extra: the command could not be started
    INTERRUPTED = 130  # 128 + SIGINT


class ProjError(Exception):
    """A failure with a message meant for the user (no traceback)."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(ProjError):
    """Options or arguments that cannot work together."""


class SpecError(ProjError):
    """An MLproject or environment file that is not valid; carries every problem found."""

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error]
        summary = message or "\n".join(p.as_text() for p in errors or self.problems)
        super().__init__(summary)


class ParameterError(ProjError):
    """A `-P` value or key that the entry point cannot accept."""


class UnsafeSourceError(ProjError):
    """A project URI, version or subdirectory refused before git sees it."""


class SourceError(ProjError):
    """The project could not be fetched: no such folder, unknown version, unreachable remote."""

    exit_code = ExitCode.SETUP


class UnknownVersionError(SourceError):
    """The requested branch, tag or commit does not exist in the repository."""

    def __init__(self, message: str, *, version: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.version = version


class ArchiveChangedError(SourceError):
    """A project archive fetched again is not the one a recorded run used (its SHA-256 differs)."""


class PatchError(SourceError):
    """A recorded run's uncommitted changes do not apply to its commit."""


class ReproductionError(ProjError):
    """A run cannot be reproduced exactly (and drift was not allowed)."""

    exit_code = ExitCode.SETUP


class EnvironmentSetupError(ProjError):
    """The project's environment could not be built or found."""

    exit_code = ExitCode.SETUP

    def __init__(self, message: str, *, hint: str | None = None, output: str = "") -> None:
        super().__init__(message, hint=hint)
        self.output = output  # the build tool's own output, shown in full on failure


class TrackingError(ProjError):
    """The tracking store cannot be opened, read or written."""

    exit_code = ExitCode.SETUP


class RunNotFoundError(ProjError):
    """No run, or more than one, matches the id given."""


class BackendError(ProjError):
    """The backend could not start, watch or stop the run."""

    exit_code = ExitCode.SETUP


class StoreFullError(TrackingError):
    """The disk that holds the tracking store has no room left for a write."""


class RunNotRecordedError(TrackingError):
    """A run ended, but its end could not be written to its store (the store was removed, or
    its disk stayed full): the record still says RUNNING. Carries how the run ended."""

    def __init__(self, message: str, *, run_id: str, status: str, run_exit_code: int | None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run_id, self.status, self.run_exit_code = run_id, status, run_exit_code


class CommandNotStartedError(BackendError):
    """The command could not be started at all (the system refused to execute it)."""

    def __init__(self, message: str, *, hint: str | None = None, not_found: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.not_found = not_found  # no such program (or folder): a shell's 127 rather than 126


class OutputError(ProjError):
    """proj's standard output cannot be written (a full disk, a closed descriptor)."""

    exit_code = ExitCode.SETUP


class PluginError(ProjError):
    """An installed plugin is broken or clashes with another."""

    exit_code = ExitCode.SETUP


class MissingExtraError(ProjError):
    """An optional part of proj is needed and not installed (`pip install 'proj-runner[EXTRA]'`)."""

    exit_code = ExitCode.SETUP

    def __init__(self, message: str, *, extra: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.extra = extra
