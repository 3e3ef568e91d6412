"""Processes that clean up after proj when it dies, even by SIGKILL.

Both kinds are forked before they are needed and wait for end-of-file on a pipe that only proj
writes to: the kernel closes it when proj exits, however it exits. The watchdog then kills the
project command's process group; a reaper runs a clean-up command (removing a container the
Docker daemon would otherwise keep running) unless proj disarmed it first.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Sequence

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: be killed if proj dies (Linux only; best effort elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _become_guardian(*keep: int) -> None:
    """In a freshly forked guardian: leave the terminal's process group (Ctrl-C is proj's to
    handle), ignore stop signals, and hold no descriptor but `keep` — an inherited pipe would
    keep its reader waiting for the guardian's exit."""
    os.setsid()
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    low = 0
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


class Watchdog:
    """Kills the command's process group as soon as proj exits, however it exits.

    (The parent-death signal alone reaches only the command's shell, not the processes the shell
    started.) It is forked before the command starts, and the command reports its process group
    to it before it execs, so there is no moment at which a command runs that the watchdog could
    not stop.
    """

    def __init__(self) -> None:
        life_read, self._life = os.pipe()
        self._group_read, self.group_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the watchdog itself: no Python-level cleanup, no exceptions escape
            try:
                _become_guardian(life_read, self._group_read)
                _watch(life_read, self._group_read)
            finally:
                os._exit(0)
        os.close(life_read)
        os.close(self._group_read)

    def report_group(self) -> None:
        """In the command's process, before exec: tell the watchdog which group to kill."""
        os.write(self.group_write, f"{os.getpid()}\n".encode())

    def started(self) -> None:
        """In proj, once the command runs (its copy of the write end closed at exec)."""
        os.close(self.group_write)

    def release(self) -> None:
        os.close(self._life)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _watch(life_read: int, group_read: int) -> None:
    while os.read(life_read, 4096):
        pass
    reported = b""
    while True:  # the group id, once the command has written it (or nothing: no command started)
        chunk = os.read(group_read, 64)
        if not chunk:
            break
        reported += chunk
    if reported.strip():
        try:
            os.killpg(int(reported.split()[0]), signal.SIGKILL)
        except (OSError, ValueError):
            pass


class Reaper:
    """Runs a clean-up command if proj dies before calling `disarm`."""

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
    """Fork a process that runs `argv` if proj dies, even by SIGKILL, before `disarm()`."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reaper: no Python-level cleanup, no exceptions escape
        try:
            _become_guardian(read_fd)
            null = os.open(os.devnull, os.O_RDWR)  # the clean-up command gets quiet stdio
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
