"""The one module that starts subprocesses.

Two kinds of child: tools (git, uv, ...) whose output is captured and shown only when they fail,
and the project's own command, which streams live to the terminal and into the run's log, runs
in its own process group, and is stopped as a whole when proj is interrupted or dies.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, Sequence

CHUNK = 64 * 1024
# How long a command may take to stop after the signal proj forwarded, before SIGKILL.
DEFAULT_GRACE_SECONDS = float(os.environ.get("PROJ_STOP_GRACE_SECONDS", "10"))
# After the command exits, how long to keep reading output that its leftover children write.
DRAIN_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
            preexec_fn=_die_with_parent,
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
    child = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    watchdog = _start_watchdog(child.pid)
    stopper = _Stopper(child.pid, grace_seconds)
    previous = {sig: signal.signal(sig, stopper.on_signal) for sig in STOP_SIGNALS}
    try:
        _pump(child, terminal, log, stopper)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _kill_group(child.pid)  # whatever the command left running in its group
        watchdog.release()
    code = child.returncode
    return CommandResult(128 - code if code < 0 else code, stopper.received)


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


def _pump(child: subprocess.Popen, terminal: BinaryIO, log: BinaryIO, stopper: _Stopper) -> None:
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


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: be killed if proj dies (Linux only; best effort elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Watchdog:
    def __init__(self, pid: int, write_fd: int) -> None:
        self.pid = pid
        self.write_fd = write_fd

    def release(self) -> None:
        os.close(self.write_fd)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _start_watchdog(pgid: int) -> _Watchdog:
    """Fork a tiny process that kills group `pgid` once proj exits, however it exits.

    It waits for end-of-file on a pipe only proj writes to; the kernel closes that pipe when
    proj dies, even by SIGKILL. The parent-death signal alone would reach only the command's
    shell, not the processes the shell started.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watchdog: no Python-level cleanup, no exceptions escape
        try:
            os.setsid()  # out of the terminal's process group: Ctrl-C is proj's to handle
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            os.closerange(0, read_fd)
            os.closerange(read_fd + 1, os.sysconf("SC_OPEN_MAX"))
            while os.read(read_fd, 1):
                pass
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        finally:
            os._exit(0)
    os.close(read_fd)
    return _Watchdog(pid, write_fd)


class Reaper:
    """A process that runs a clean-up command if proj dies before calling `disarm`."""

    def __init__(self, pid: int, write_fd: int) -> None:
        self.pid = pid
        self.write_fd = write_fd

    def disarm(self) -> None:
        try:
            os.write(self.write_fd, b"x")  # the all-clear: the reaper exits without running anything
        finally:
            os.close(self.write_fd)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def start_reaper(argv: Sequence[str]) -> Reaper:
    """Fork a process that runs `argv` if proj dies, even by SIGKILL, before `disarm()`.

    For clean-up proj does itself when it lives, such as removing a container the daemon would
    otherwise keep running. Like the watchdog above it waits for end-of-file on a pipe only proj
    writes to; `disarm` writes a byte first, so a normal end runs nothing.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reaper: no Python-level cleanup, no exceptions escape
        try:
            os.setsid()  # Ctrl-C at the terminal is proj's to handle; ignored signals stay so in argv
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            os.closerange(3, read_fd)
            os.closerange(read_fd + 1, os.sysconf("SC_OPEN_MAX"))
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                if fd != read_fd:
                    os.dup2(null, fd)
            released = False
            while os.read(read_fd, 1):
                released = True
            if not released:
                os.execv(argv[0], list(argv))
        finally:
            os._exit(0)
    os.close(read_fd)
    return Reaper(pid, write_fd)
