"""proj's handle on its supervisor process (the program is runner/supervision.py).

One supervisor per proj process, started on first need and shared by every thread. It is
started with posix_spawn: no Python code runs between fork and exec, so starting it from a
worker thread is safe. If it has died (or proj forked), the next call starts a new one.
"""

from __future__ import annotations

import _socket  # not `socket`: its import costs more than all the rest of this module's (start-up budget)
import atexit
import errno
import os
import sys
import threading
from pathlib import Path
from typing import Mapping, Sequence

from runner.errors import BackendError, CommandNotStartedError
from runner.supervision import encode_request, send_with_fds

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
# The supervisor imports nothing of proj but runner.supervision and runner.procfs, and no site
# packages: it starts in a few milliseconds and is not disturbed by the user's PYTHON* variables.
_BOOT = f"import sys; sys.path.insert(0, {_PACKAGE_PARENT!r}); from runner.supervision import main; main()"


class Supervisor:
    def __init__(self) -> None:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            self.pid = os.posix_spawn(
                sys.executable, [sys.executable, "-I", "-S", "-c", _BOOT], os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 0),
                              (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
                setsid=True)  # out of the terminal's process group: Ctrl-C is proj's to handle
        finally:
            theirs.close()
        self.socket = ours
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.cleanups = 0

    def send(self, message: bytes, fds: Sequence[int] = ()) -> None:
        with self.lock:
            send_with_fds(self.socket, message, fds)

    def forget(self) -> None:
        """It was found gone: close proj's end, and collect it."""
        self.socket.close()
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


_current: Supervisor | None = None
_starting = threading.Lock()


def _after_fork_in_child() -> None:
    """A process forked from proj starts a supervisor of its own if it needs one; it must not hold
    its parent's socket, whose closing tells the parent's supervisor that the parent is gone."""
    global _current, _starting
    if _current is not None:
        _current.socket.close()
        _current = None
    _starting = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def _supervisor() -> Supervisor:
    global _current
    with _starting:
        if _current is None or _current.owner != os.getpid():
            _current = Supervisor()
        return _current


def _send(message: bytes, fds: Sequence[int] = ()) -> None:
    """Send to the supervisor, starting a new one once if the current one is gone."""
    global _current
    try:
        _supervisor().send(message, fds)
    except OSError:
        with _starting:
            if _current is not None:
                _current.forget()
            _current = None
        _supervisor().send(message, fds)


def start() -> None:
    """Start the supervisor now, so that its start-up overlaps proj's own work."""
    _supervisor()


def watch_group(pgid: int) -> None:
    """Kill process group `pgid` if proj dies before `unwatch_group(pgid)`."""
    _send(b"watch %d" % pgid)


def unwatch_group(pgid: int) -> None:
    _send(b"unwatch %d" % pgid)


def arm_cleanup(argv: Sequence[str]) -> int:
    """Have `argv` run if proj dies before `disarm_cleanup` (e.g. to remove a container)."""
    supervisor = _supervisor()
    with supervisor.lock:
        supervisor.cleanups += 1
        number = supervisor.cleanups
    _send(b"cleanup %d " % number + b"\0".join(os.fsencode(arg) for arg in argv))
    return number


def disarm_cleanup(number: int) -> None:
    _send(b"disarm %d" % number)


class SupervisedCommand:
    """A command the supervisor started for proj, with everything it starts in turn."""

    def __init__(self, channel: _socket.socket, output: int) -> None:
        self.channel = channel
        self.output = output  # read end of the command's stdout and stderr
        self.pid: int | None = None
        self.returncode: int | None = None  # like Popen.returncode, once the command exited
        self.gone = False  # the keeper has ended everything and closed its end
        self._pending = b""

    def fileno(self) -> int:
        return self.channel.fileno()

    def read_events(self) -> None:
        """Take in what the keeper said (call when `fileno()` is readable)."""
        try:
            data = self.channel.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.gone = True
            return
        self._pending += data
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            self._event(line.decode("utf-8", "replace"))

    def _event(self, line: str) -> None:
        verb, _, rest = line.partition(" ")
        if verb == "pid":
            self.pid = int(rest)
        elif verb == "exit":
            self.returncode = int(rest)
        elif verb == "error":
            number, _, reason = rest.partition(" ")
            raise CommandNotStartedError(f"Could not start the command: {reason}",
                                         not_found=number == str(errno.ENOENT))

    def wait_started(self) -> int:
        while self.pid is None and not self.gone:
            self.read_events()
        if self.pid is None:
            raise BackendError("Could not start the command: proj's process supervisor stopped")
        return self.pid

    def send_signal(self, signum: int) -> None:
        """Signal the command's process group (not what left it: that ends with the run)."""
        self._tell(b"signal %d\n" % signum)

    def kill(self) -> None:
        """SIGKILL the command and everything it started."""
        self._tell(b"kill\n")

    def finish(self) -> None:
        """The run is over: have whatever is left killed, and return once nothing is."""
        self._tell(b"end\n")
        while not self.gone:
            self.read_events()
        self.channel.close()
        os.close(self.output)

    def _tell(self, line: bytes) -> None:
        try:
            self.channel.sendall(line)
        except OSError:
            pass  # the keeper is gone; `gone` says so on the next read


def spawn(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> SupervisedCommand:
    """Start `argv` under a keeper (runner/supervision.py): its stdout and stderr go to one pipe,
    its stdin is /dev/null. Raises CommandNotStartedError if it cannot start."""
    for value in (*argv, *env.keys(), *env.values(), str(cwd)):
        if "\0" in value:
            raise CommandNotStartedError(
                "The command or its environment holds a NUL byte, which no program can receive",
                hint=f"check the value starting {value.split(chr(0))[0][:40]!r}")
    request = encode_request(argv, env, str(cwd))
    output, output_write = os.pipe()
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        _send(b"spawn", [theirs.fileno(), output_write])
    except BaseException:
        os.close(output)
        ours.close()
        raise
    finally:
        theirs.close()
        os.close(output_write)
    command = SupervisedCommand(ours, output)
    ours.sendall(request)
    try:
        command.wait_started()
    except BaseException:
        command.finish()
        raise
    return command


@atexit.register
def _let_go() -> None:
    """proj is done: the supervisor sees its socket close, ends whatever is left and exits."""
    if _current is not None and _current.owner == os.getpid():
        _current.socket.close()
