"""What /proc says about a process: the one parser, and the one rule for "alive".

The rule: a process is alive while it runs. A zombie (it has exited, its parent has not yet
collected its status) is gone: it runs no code, holds no files and will never write a record.
A process is known by its pid *and* its start time, so a pid the kernel reused for another
process does not pass for the one that started a run.

This module uses the standard library only: the supervisor (runner/supervision.py) runs it in an
interpreter started with `-I -S`, where nothing else of proj is imported.
"""

from __future__ import annotations

import os


class ProcessStat:
    """The fields of /proc/PID/stat that proj uses. (A plain class, not a dataclass: importing
    dataclasses would double the supervisor's start-up time.)"""

    __slots__ = ("pid", "state", "ppid", "pgid", "session", "start_ticks")

    def __init__(self, pid: int, state: str, ppid: int, pgid: int, session: int, start_ticks: int) -> None:
        self.pid = pid
        self.state = state  # R running, S sleeping, D disk wait, Z zombie, T stopped, ...
        self.ppid = ppid
        self.pgid = pgid
        self.session = session
        self.start_ticks = start_ticks  # when the process started, in clock ticks after boot

    @property
    def is_zombie(self) -> bool:
        return self.state in ("Z", "X")  # X: being removed, a moment after Z

    def __repr__(self) -> str:
        return f"ProcessStat(pid={self.pid}, state={self.state!r}, ppid={self.ppid})"


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat line, parsed; None when there is no such process (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            line = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is parenthesised and may hold spaces or parentheses: split after the last ")".
    fields = line.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return ProcessStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def has_procfs() -> bool:
    return os.path.isdir("/proc/self")


def process_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie counts as gone (unlike `kill -0`)."""
    if pid <= 0:
        return False
    stat = read_stat(pid)
    if stat is not None:
        return not stat.is_zombie
    if has_procfs():
        return False
    try:  # no /proc on this system: the kernel can only say whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_ticks(pid: int) -> int | None:
    """When `pid` started (to tell it from a later process given the same pid); None if gone."""
    stat = read_stat(pid)
    return stat.start_ticks if stat is not None else None


def same_process_alive(pid: int, ticks: int) -> bool:
    """Whether the process that had pid `pid` and started at `ticks` still runs."""
    stat = read_stat(pid)
    return stat is not None and stat.start_ticks == ticks and not stat.is_zombie


def all_processes() -> list[ProcessStat]:
    """Every process this system shows in /proc (those that vanish while it is read are left out)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                found.append(stat)
    return found


def descendants(pid: int) -> list[ProcessStat]:
    """The processes below `pid` in the process tree, parents before their children."""
    children: dict[int, list[ProcessStat]] = {}
    for stat in all_processes():
        children.setdefault(stat.ppid, []).append(stat)
    found: list[ProcessStat] = []
    frontier = [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += [stat.pid for stat in below]
    return found
