"""The one module that starts subprocesses.

Two kinds of child: tools (git, uv, ...) whose output is captured and shown only when they fail,
and the project's own command, which streams live to the terminal and into the run's log. Both
are started without `preexec_fn` (CPython documents it unsafe with threads, and sweeps start
commands from worker threads), each in a session of its own, and both are watched by proj's
supervisor (runner/supervisor.py), which ends them if proj dies, however it dies. The command is
started by the supervisor itself, under a keeper that ends everything the command started,
even what left its process group (docs/reliability.md, "Processes").
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Mapping, NamedTuple, Sequence

from runner import supervisor
from runner.errors import BackendError
from runner.stopping import DEFAULT_GRACE_SECONDS, StopSignals

if TYPE_CHECKING:
    import subprocess

CHUNK = 64 * 1024
# After the command exits, how long to keep reading output that its leftover children write.
DRAIN_SECONDS = 1.0

__all__ = ["DEFAULT_GRACE_SECONDS", "CommandResult", "ToolError", "ToolResult", "run_command", "run_tool",
           "write_fully"]


class ToolError(Exception):
    """A tool exited non-zero or could not start; carries its combined output."""

    def __init__(self, argv: Sequence[str], returncode: int | None, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        status = "could not start" if returncode is None else f"exited with code {returncode}"
        super().__init__(f"{argv[0]} {status}")


class ToolResult(NamedTuple):
    """A tool's exit code and its captured output."""

    returncode: int
    output: str | bytes  # bytes when run with binary=True

    @property
    def text(self) -> str:
        """The output as text (decoded, bad bytes replaced, if the tool ran with binary=True)."""
        return self.output if isinstance(self.output, str) else self.output.decode(errors="replace")


def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    check: bool = True,
    binary: bool = False,
    input: bytes | None = None,
) -> ToolResult:
    """Run a tool with stdout and stderr captured together.

    `on_line` receives each output line as it is written (for `-v` build logs); `input` is fed
    to the tool's stdin. Ctrl-C stops the tool before the KeyboardInterrupt propagates, so no
    tool outlives proj.
    """
    import subprocess  # here: a project's own command starts through the supervisor (start-up budget)

    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signal handling, not the terminal's, decides its fate
        )
    except OSError as err:
        raise ToolError(argv, None, f"{argv[0]}: {err.strerror}") from err
    # If proj is killed in the moment between the start and this line, the tool outlives it,
    # finishing its (bounded) work alone: only the project's command is started by the supervisor.
    supervisor.watch_group(child.pid)
    chunks: list[bytes] = []
    try:
        if input is not None:
            _feed(child, input)
        assert child.stdout is not None
        for raw in child.stdout:
            chunks.append(raw)
            if on_line is not None:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
        returncode = child.wait()
    except BaseException:
        _kill_group(child.pid)
        child.wait()
        raise
    finally:
        supervisor.unwatch_group(child.pid)
    output = b"".join(chunks)
    if check and returncode != 0:
        raise ToolError(argv, returncode, output.decode("utf-8", "replace"))
    return ToolResult(returncode, output if binary else output.decode("utf-8", "replace"))


def _feed(child: subprocess.Popen[bytes], data: bytes) -> None:
    """Write all of `data` to the tool's stdin from a thread, so its output pipe cannot fill
    while we write (the inputs here are patches: small, but not bounded)."""
    stdin = child.stdin
    assert stdin is not None

    def write() -> None:
        try:
            stdin.write(data)
        except BrokenPipeError:
            pass
        finally:
            stdin.close()

    threading.Thread(target=write, daemon=True).start()


class CommandResult(NamedTuple):
    """How a project's command ended."""

    exit_code: int  # the command's code, or 128 + signal number when a signal ended it
    interrupted_by: int | None  # the signal proj received and forwarded, if any
    log_error: str | None = None  # why the log stopped being written (a full disk), if it did


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: BinaryIO,
    terminal: BinaryIO,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> CommandResult:
    """Run the project's command, streaming its output; return once nothing it started is left.

    stdout and stderr share one pipe, so the log holds them in exactly the order the command
    wrote them (two pipes can only approximate that order); the same bytes go live to
    `terminal`. Output is moved a chunk at a time and never decoded, so memory stays bounded
    whatever the command prints. SIGINT, SIGTERM and SIGHUP are forwarded to the command's
    process group; if it has not ended after `grace_seconds` it is killed with everything it
    started, and a second signal does that at once. Safe to call from any thread (runner.stopping
    says how signals reach a worker thread).
    """
    with StopSignals(grace_seconds) as stop:
        if stop.received is not None:  # a stop signal came before this command could start
            return CommandResult(128 + stop.received, stop.received)
        command = supervisor.spawn(argv, env, cwd)
        try:
            log_error = _pump(command, terminal, _GuardedLog(log), stop)
        finally:
            command.finish()  # whatever the command left running is killed: nothing outlives the run
    code = command.returncode
    if code is None:  # the keeper vanished without a word (killed from outside)
        raise BackendError("The command's supervising process ended unexpectedly; its exit code is unknown")
    return CommandResult(128 - code if code < 0 else code, stop.received, log_error)


class _GuardedLog:
    """The run's log; a write that fails (disk full) stops logging, never the run."""

    def __init__(self, log: BinaryIO) -> None:
        self.log = log
        self.error: str | None = None

    def write(self, data: bytes) -> None:
        if self.error is None:
            self.error = write_fully(self.log, data)

    def flush(self) -> None:
        self.write(b"")
        if self.error is None:
            try:
                self.log.flush()
            except OSError as err:
                self.error = err.strerror or str(err)


def write_fully(sink: BinaryIO, data: bytes) -> str | None:
    """Write all of `data` to an unbuffered file, which may take less than it is given (the
    last bytes a full disk has room for); why it could not, if it could not."""
    view = memoryview(data)
    try:
        while view:
            written = sink.write(view)
            if not written:
                return "no room left"
            view = view[written:]
    except OSError as err:
        return err.strerror or str(err)
    return None


def _pump(command: supervisor.SupervisedCommand, terminal: BinaryIO, log: _GuardedLog, stop: StopSignals) -> str | None:
    """Copy the command's output until it has exited and its output has ended (or, if leftover
    children keep the pipe open, DRAIN_SECONDS after it exited)."""
    os.set_blocking(command.output, False)
    # poll(2) rather than the selectors module, which a run need not import (start-up budget).
    poller = select.poll()
    poller.register(command.output, select.POLLIN)
    poller.register(command.fileno(), select.POLLIN)
    output_open = True
    drain_until: float | None = None
    try:
        while not command.gone:
            for fd, _ in poller.poll(200):
                if fd != command.output:
                    command.read_events()
                    continue
                data = _read(command.output)
                if data == b"":
                    poller.unregister(command.output)  # end of output: every writer has exited
                    output_open = False
                elif data:
                    _write(terminal, data)
                    log.write(data)
            stop.poll(forward=command.send_signal, kill=command.kill)
            if command.returncode is not None:
                drain_until = drain_until or time.monotonic() + DRAIN_SECONDS
                if not output_open or time.monotonic() >= drain_until:
                    break
    finally:
        log.flush()
    return log.error


def _read(fd: int) -> bytes | None:
    """Up to CHUNK bytes; b"" at end of file; None when nothing is available yet."""
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _write(sink: BinaryIO, data: bytes) -> None:
    try:
        sink.write(data)
        sink.flush()
    except (BrokenPipeError, ValueError):
        pass  # the terminal went away (`proj run ... | head`); the log still gets everything


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
