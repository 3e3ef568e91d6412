"""The one module that starts subprocesses.

Two kinds of child: tools (git, uv, ...) whose output is captured and shown only when they fail,
and the project's own command, which streams live to the terminal and into the run's log, runs
in its own process group, and is stopped as a whole when proj is interrupted or dies.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping, Sequence

from runner.supervision import STOP_SIGNALS, Watchdog, die_with_parent

CHUNK = 64 * 1024
# How long a command may take to stop after the signal proj forwarded, before SIGKILL.
DEFAULT_GRACE_SECONDS = float(os.environ.get("PROJ_STOP_GRACE_SECONDS", "10"))
# After the command exits, how long to keep reading output that its leftover children write.
DRAIN_SECONDS = 1.0


class ToolError(Exception):
    """A tool exited non-zero or could not start; carries its combined output."""

    def __init__(self, argv: Sequence[str], returncode: int | None, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        status = "could not start" if returncode is None else f"exited with code {returncode}"
        super().__init__(f"{argv[0]} {status}")


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    output: str | bytes  # bytes when run with binary=True


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
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signal handling, not the terminal's, decides its fate
            preexec_fn=die_with_parent,
        )
    except OSError as err:
        raise ToolError(argv, None, f"{argv[0]}: {err.strerror}") from err
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
    output = b"".join(chunks)
    if check and returncode != 0:
        raise ToolError(argv, returncode, output.decode("utf-8", "replace"))
    return ToolResult(returncode, output if binary else output.decode("utf-8", "replace"))


def _feed(child: subprocess.Popen, data: bytes) -> None:
    """Write all of `data` to the tool's stdin from a thread, so its output pipe cannot fill
    while we write (the inputs here are patches: small, but not bounded)."""
    import threading

    def write() -> None:
        try:
            child.stdin.write(data)
        except BrokenPipeError:
            pass
        finally:
            child.stdin.close()

    threading.Thread(target=write, daemon=True).start()


@dataclass(frozen=True)
class CommandResult:
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
    """Run the project's command in its own process group, streaming its output.

    stdout and stderr share one pipe, so the log holds them in exactly the order the command
    wrote them (two pipes can only approximate that order); the same bytes go live to
    `terminal`. Output is moved a chunk at a time and never decoded, so memory stays bounded
    whatever the command prints. SIGINT, SIGTERM and SIGHUP are forwarded to the whole group;
    if it has not stopped after `grace_seconds` it is killed, and a second signal kills it at
    once. A watchdog kills the group if proj itself dies, so nothing the command started
    outlives the run.
    """
    watchdog = Watchdog()

    def before_exec() -> None:
        die_with_parent()
        watchdog.report_group()

    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=before_exec,
        )
    except BaseException:
        watchdog.started()
        watchdog.release()
        raise
    watchdog.started()
    stopper = _Stopper(child.pid, grace_seconds)
    previous = _route_stop_signals(stopper.on_signal)
    try:
        log_error = _pump(child, terminal, _GuardedLog(log), stopper)
    finally:
        _unroute_stop_signals(stopper.on_signal, previous)
        _kill_group(child.pid)  # whatever the command left running in its group
        watchdog.release()
    code = child.returncode
    return CommandResult(128 - code if code < 0 else code, stopper.received, log_error)


# Stop-signal handlers of commands run from worker threads (a sweep's points run in parallel):
# only the main thread may install signal handlers, so `forwarding_stop_signals` passes them on.
_THREAD_HANDLERS: set[Callable] = set()


def _route_stop_signals(handler: Callable) -> dict:
    if threading.current_thread() is threading.main_thread():
        return {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    _THREAD_HANDLERS.add(handler)
    return {}


def _unroute_stop_signals(handler: Callable, previous: dict) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
    _THREAD_HANDLERS.discard(handler)


@contextmanager
def forwarding_stop_signals() -> Iterator[list[int]]:
    """In the main thread, while worker threads run commands with `run_command`: pass SIGINT,
    SIGTERM and SIGHUP on to every one of them. Yields the list of signals received, so the
    caller can stop starting new commands."""
    received: list[int] = []

    def forward(signum: int, frame) -> None:
        received.append(signum)
        for handler in list(_THREAD_HANDLERS):
            handler(signum, frame)

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Stopper:
    """Forwards stop signals to the command's group and escalates to SIGKILL."""

    def __init__(self, pgid: int, grace_seconds: float) -> None:
        self.pgid = pgid
        self.grace_seconds = grace_seconds
        self.received: int | None = None
        self.kill_at: float | None = None

    def on_signal(self, signum: int, _frame) -> None:
        if self.received is None:
            self.received = signum
            self.kill_at = time.monotonic() + self.grace_seconds
            _signal_group(self.pgid, signum)
        else:  # asked twice: stop waiting
            _kill_group(self.pgid)

    def check_deadline(self) -> None:
        if self.kill_at is not None and time.monotonic() >= self.kill_at:
            _kill_group(self.pgid)
            self.kill_at = None


class _GuardedLog:
    """The run's log; a write that fails (disk full) stops logging, never the run."""

    def __init__(self, log: BinaryIO) -> None:
        self.log = log
        self.error: str | None = None

    def write(self, data: bytes) -> None:
        if self.error is None:
            try:
                self.log.write(data)
            except OSError as err:
                self.error = err.strerror or str(err)

    def flush(self) -> None:
        self.write(b"")
        if self.error is None:
            try:
                self.log.flush()
            except OSError as err:
                self.error = err.strerror or str(err)


def _pump(child: subprocess.Popen, terminal: BinaryIO, log: _GuardedLog, stopper: _Stopper) -> str | None:
    pipe = child.stdout
    assert pipe is not None
    os.set_blocking(pipe.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(pipe, selectors.EVENT_READ)
    drain_until = None
    try:
        while True:
            if selector.select(timeout=0.2):
                data = _read(pipe)
                if data == b"":
                    break  # end of file: every writer has exited
                if data:
                    _write(terminal, data)
                    log.write(data)
            stopper.check_deadline()
            if child.poll() is not None:
                # Background children may hold the pipe open forever; give them a moment only.
                drain_until = drain_until or time.monotonic() + DRAIN_SECONDS
                if time.monotonic() >= drain_until:
                    break
    finally:
        selector.close()
        pipe.close()
        log.flush()
    child.wait()
    return log.error


def _read(pipe) -> bytes | None:
    """Up to CHUNK bytes; b"" at end of file; None when nothing is available yet."""
    try:
        return os.read(pipe.fileno(), CHUNK)
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


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)
