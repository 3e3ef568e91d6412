"""The supervisor: one process per proj process, that ends what proj started however proj ends.

proj starts it once, on first need (runner/supervisor.py), as a fresh interpreter: never by a
bare fork, which is unsafe in a process with threads. It holds one end of a socket whose other
end only proj has, so the kernel tells it when proj is gone, even by SIGKILL. Until then it:

- keeps the process groups of the tools proj runs (git, uv, ...), to kill them if proj dies;
- keeps the clean-up commands proj registers (removing a container), to run them if proj dies;
- starts the project's commands. For each, it forks a keeper, which is a child subreaper
  (prctl PR_SET_CHILD_SUBREAPER): whatever the command starts stays below the keeper, even a
  process that double-forks or calls setsid, because an orphan is adopted by the nearest
  subreaper above it instead of by init. The keeper runs the command in a session of its own,
  forwards the signals proj sends it to the command's process group, and once proj says the run
  is over, or proj is gone, it kills every process below it and exits. proj sees the keeper's
  end of their socket close only when nothing of the run is left.

Standard library only, and nothing of proj but runner.procfs: this runs under `python -I -S`,
and what it imports is its start-up time: the C modules `_socket` and `_signal` rather than
`socket` and `signal`, whose enums and selectors cost more than all the rest; typing only for the
type checker.
The supervisor and its keepers ignore SIGINT, SIGTERM and SIGHUP (Ctrl-C is proj's to handle).
"""

from __future__ import annotations

import _signal
import _socket
import os
import select
import struct
import sys
import time

from runner.procfs import descendants

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Mapping, NoReturn, Sequence

    OnExit = Callable[[int, int], None]  # (pid, wait status) of each child collected

_PR_SET_CHILD_SUBREAPER = 36
_GUARDIAN_IGNORES = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
# Reset in the command before exec: ignored signals stay ignored across exec, and Python ignores
# SIGPIPE and SIGXFSZ (as subprocess does with restore_signals).
_RESET_FOR_COMMAND = (*_GUARDIAN_IGNORES, _signal.SIGCHLD, _signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGQUIT)
END_TIMEOUT = 10.0  # how long to keep killing what is left of a run (a process stuck in the kernel)
CLEANUP_TIMEOUT = 60.0  # how long clean-up commands may take once proj is gone
_LENGTH = struct.Struct("!Q")
_FD = struct.Struct("i")


# --- the wire format -------------------------------------------------------------------------

def encode_request(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    """A command to start, length-prefixed. Values travel as bytes (os.fsencode), so a value
    that is not UTF-8 arrives exactly as proj had it; a NUL byte is refused by the caller."""
    fields = [str(len(argv)).encode(), *map(os.fsencode, argv), str(len(env)).encode(),
              *(os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()), os.fsencode(cwd)]
    body = b"\0".join(fields)
    return _LENGTH.pack(len(body)) + body


def decode_request(body: bytes) -> tuple[list[bytes], dict[bytes, bytes], bytes]:
    fields = body.split(b"\0")
    argc = int(fields[0])
    argv = fields[1:1 + argc]
    envc = int(fields[1 + argc])
    pairs = (item.partition(b"=") for item in fields[2 + argc:2 + argc + envc])
    env = {name: value for name, _, value in pairs}
    return argv, env, fields[2 + argc + envc]


def send_with_fds(sock: _socket.socket, message: bytes, fds: Sequence[int]) -> None:
    """One message, with descriptors the receiver gets copies of (SCM_RIGHTS)."""
    rights = b"".join(_FD.pack(fd) for fd in fds)
    sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)] if fds else [])


def receive_with_fds(sock: _socket.socket, size: int, max_fds: int) -> tuple[bytes, list[int]]:
    message, ancillary, _flags, _address = sock.recvmsg(size, _socket.CMSG_SPACE(max_fds * _FD.size))
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(data) - len(data) % _FD.size
            fds += [value for (value,) in _FD.iter_unpack(data[:usable])]
    return message, fds


def become_subreaper() -> bool:
    """Adopt the orphans of everything below this process (Linux 3.4+); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


# --- ending what is below this process ---------------------------------------------------------

def collect_children(on_exit: OnExit) -> bool:
    """Collect every child that has ended; False once this process has no child left at all."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        on_exit(pid, status)


def end_descendants(on_exit: OnExit, timeout: float = END_TIMEOUT) -> None:
    """SIGKILL every process below this one until none is left. As a subreaper this process
    adopts the orphans of those it kills, so it sees each of them, however deep; once it has no
    child at all, nothing is below it."""
    deadline = time.monotonic() + timeout
    while collect_children(on_exit) and time.monotonic() < deadline:
        for stat in descendants(os.getpid()):
            if not stat.is_zombie:
                try:
                    os.kill(stat.pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.005)


# --- the supervisor ----------------------------------------------------------------------------

def main() -> None:
    """The supervisor's entry point: fd 0 is its socket to proj (SOCK_SEQPACKET)."""
    _become_guardian()
    become_subreaper()
    channel = _socket.socket(fileno=0)
    wakeup = _child_wakeup()
    watched: set[int] = set()
    cleanups: dict[int, list[bytes]] = {}
    while True:
        readable, _, _ = select.select([channel.fileno(), wakeup], [], [])
        if wakeup in readable:
            _drain(wakeup)
            collect_children(_ignore)
        if channel.fileno() in readable:
            message, fds = receive_with_fds(channel, 65536, 2)
            if not message:
                break  # proj is gone (or done)
            _obey(message, fds, watched, cleanups)
    for pgid in watched:
        _kill_group(pgid)
    _run_cleanups(list(cleanups.values()))
    end_descendants(_ignore)


def _obey(message: bytes, fds: list[int], watched: set[int], cleanups: dict[int, list[bytes]]) -> None:
    verb, _, rest = message.partition(b" ")
    if verb == b"spawn" and len(fds) == 2:
        _start_keeper(*fds)
    elif verb == b"watch":
        watched.add(int(rest))
    elif verb == b"unwatch":
        watched.discard(int(rest))
    elif verb == b"cleanup":
        number, _, argv = rest.partition(b" ")
        cleanups[int(number)] = argv.split(b"\0")
    elif verb == b"disarm":
        cleanups.pop(int(rest), None)
    for fd in fds:
        os.close(fd)


def _start_keeper(chan: int, out: int) -> None:
    if os.fork() == 0:
        try:
            # A keeper answers to proj through `chan` only: it drops the supervisor's socket (fd 0
            # becomes /dev/null, so that no descriptor opened later takes its number) and pipes.
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd in range(3, max(chan, out, null) + 1):
                if fd not in (chan, out):
                    _close_quietly(fd)
            _keep(chan, out)
        finally:
            os._exit(0)


def _run_cleanups(commands: list[list[bytes]]) -> None:
    started = []
    for argv in commands:
        pid = os.fork()
        if pid == 0:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                for sig in _RESET_FOR_COMMAND:
                    _signal.signal(sig, _signal.SIG_DFL)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        started.append(pid)
    deadline = time.monotonic() + CLEANUP_TIMEOUT
    while started and time.monotonic() < deadline:
        started = [pid for pid in started if os.waitpid(pid, os.WNOHANG)[0] == 0]
        time.sleep(0.05)


# --- a keeper: one command, everything it starts ------------------------------------------------

class _Keeper:
    def __init__(self, chan: _socket.socket) -> None:
        self.chan = chan
        self.pid = 0
        self.status: int | None = None  # the command's wait status, once collected
        self.reported = False

    def on_exit(self, pid: int, status: int) -> None:
        if pid == self.pid:
            self.status = status

    def report_exit(self) -> None:
        if self.status is not None and not self.reported:
            self.reported = True
            self.send(f"exit {_returncode(self.status)}")

    def send(self, line: str) -> None:
        try:
            self.chan.sendall(line.encode() + b"\n")
        except OSError:
            pass  # proj is gone: the loop sees end-of-file next

    def obey(self, line: bytes) -> bool:
        """Act on a line from proj; False when the run is over."""
        verb, _, rest = line.partition(b" ")
        if verb == b"signal" and self.status is None:  # never a group whose leader was collected
            _signal_group(self.pid, int(rest))
        elif verb == b"kill":
            end_descendants(self.on_exit)
        return verb != b"end"


def _keep(chan_fd: int, out: int) -> NoReturn:
    become_subreaper()
    chan = _socket.socket(fileno=chan_fd)
    keeper = _Keeper(chan)
    wakeup = _child_wakeup()
    request = _read_request(chan)
    if request is None:
        os._exit(0)  # proj went away before saying what to run
    keeper.pid, failure = _start_command(*request, out=out)
    if failure:
        collect_children(keeper.on_exit)
        keeper.send(f"error {failure}")
        os._exit(0)
    keeper.send(f"pid {keeper.pid}")
    pending = b""
    running = True
    while running:
        readable, _, _ = select.select([chan_fd, wakeup], [], [])
        if wakeup in readable:
            _drain(wakeup)
            collect_children(keeper.on_exit)
        if chan_fd in readable:
            data = _receive(chan)
            if not data:
                break  # proj is gone
            pending += data
            while running and b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                running = keeper.obey(line)
        keeper.report_exit()
    end_descendants(keeper.on_exit)
    keeper.report_exit()
    chan.close()  # proj, waiting for this, now knows that nothing of the run is left
    os._exit(0)


def _start_command(argv: list[bytes], env: dict[bytes, bytes], cwd: bytes, *, out: int) -> tuple[int, str]:
    """Fork and exec the command in a session of its own; (pid, "") or (pid, why it failed)."""
    error_read, error_write = os.pipe()  # close-on-exec: end-of-file without data means exec worked
    pid = os.fork()
    if pid == 0:
        os.close(error_read)
        _exec_command(argv, env, cwd, out, error_write)
    os.close(error_write)
    os.close(out)
    failure = b""
    while chunk := os.read(error_read, 4096):
        failure += chunk
    os.close(error_read)
    return pid, failure.decode("utf-8", "replace")


def _exec_command(argv: list[bytes], env: dict[bytes, bytes], cwd: bytes, out: int, error_write: int) -> NoReturn:
    step = "start a session"
    try:
        os.setsid()
        _signal.set_wakeup_fd(-1)
        for sig in _RESET_FOR_COMMAND:
            _signal.signal(sig, _signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, error_write)
        os.closerange(error_write + 1, os.sysconf("SC_OPEN_MAX"))
        step = f"enter {os.fsdecode(cwd)}"
        os.chdir(cwd)
        step = f"run {os.fsdecode(argv[0])}"
        os.execvpe(argv[0], argv, env)
    except OSError as err:
        os.write(error_write, f"{err.errno} cannot {step}: {err.strerror}".encode())
    finally:
        os._exit(127)


def _read_request(chan: _socket.socket) -> tuple[list[bytes], dict[bytes, bytes], bytes] | None:
    header = _read_exactly(chan, _LENGTH.size)
    if header is None:
        return None
    body = _read_exactly(chan, _LENGTH.unpack(header)[0])
    return decode_request(body) if body is not None else None


def _read_exactly(chan: _socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = _receive(chan, min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return data


# --- small things --------------------------------------------------------------------------------

def _become_guardian() -> None:
    """Ignore stop signals, and hold no descriptor but 0 (the socket to proj) and 2 (proj's
    stderr, where a bug in this program would show): an inherited pipe would keep its reader waiting."""
    for sig in _GUARDIAN_IGNORES:
        _signal.signal(sig, _signal.SIG_IGN)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))


def _child_wakeup() -> int:
    """A descriptor that becomes readable when a child ends (SIGCHLD), for select."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    _signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    _signal.signal(_signal.SIGCHLD, lambda _signum, _frame: None)  # a handler, so the wakeup fd is written
    return read_end


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _receive(chan: _socket.socket, size: int = 4096) -> bytes:
    try:
        return chan.recv(size)
    except OSError:
        return b""


def _returncode(status: int) -> int:
    """Like Popen.returncode: the exit code, or minus the signal that ended the process."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, _signal.SIGKILL)


def _ignore(_pid: int, _status: int) -> None:
    pass
