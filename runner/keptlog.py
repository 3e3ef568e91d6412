"""A run's log as proj opened it, kept so that the run cannot take it away.

The entry point can reach its own log (it sits beside $PROJ_OUTPUT_DIR) and may replace it with
a link, a FIFO, a folder or another file, or remove its whole run folder. proj's writes go on
into the file it opened, whatever is at the path by then; so proj keeps that file open from the
run's start and, once the run has ended, puts its content back at the path if the path no
longer leads to it. Nothing at the path is ever followed or read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runner.atomicfile import atomic_output

_CHUNK = 1024 * 1024


class KeptLog:
    """The log file of one run, open for reading and appending."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open(cls, path: Path) -> KeptLog | None:
        """The log at `path` if it is a regular file (None otherwise: nothing to keep)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return cls(path, fd)

    def note(self, text: str) -> None:
        """Add proj's own line to the log (why the command did not run, or stopped)."""
        try:
            os.write(self.fd, f"proj: {text}\n".encode("utf-8", "replace"))
        except OSError:
            pass  # a full disk: the message still reaches the terminal

    def restore(self) -> str | None:
        """Put the log back if the run replaced or removed it; what happened, for a warning
        (None when the log is where it was, or its store is gone altogether)."""
        folder = self.path.parent
        if not folder.parent.is_dir():  # the store itself is gone: its end says so
            return None
        folder_intact = _is_real_folder(folder)
        found = _lstat(self.path) if folder_intact else None
        mine = os.fstat(self.fd)
        if found is not None and (found.st_dev, found.st_ino) == (mine.st_dev, mine.st_ino):
            return None
        if not folder_intact:
            damage = f"removed or replaced its own folder {folder} (its outputs are lost)"
        elif found is None:
            damage = f"removed its log {self.path}"
        else:
            damage = f"replaced its log {self.path} with {_kind(found)}"
        try:
            self._put_back(folder_intact, found)
        except OSError as err:
            return f"the run {damage}; proj could not put the log back: {err.strerror or err}"
        return f"the run {damage}; proj put back the log it kept ({mine.st_size} bytes)"

    def close(self) -> None:
        os.close(self.fd)

    def _put_back(self, folder_intact: bool, found: os.stat_result | None) -> None:
        folder = self.path.parent
        if not folder_intact:  # gone, or a link or file in its place: never written through
            if os.path.lexists(folder):
                os.unlink(folder)
            folder.mkdir(mode=0o700)
        elif found is not None and stat.S_ISDIR(found.st_mode):
            import shutil  # here: shutil imports its compression modules (start-up budget)

            shutil.rmtree(self.path)  # a folder at the log's name: the rename below needs the name free
        with atomic_output(self.path, mode=0o600) as handle:  # replaces a link or FIFO, never follows it
            offset = 0
            while chunk := os.pread(self.fd, _CHUNK, offset):
                handle.write(chunk)
                offset += len(chunk)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _is_real_folder(path: Path) -> bool:
    found = _lstat(path)
    return found is not None and stat.S_ISDIR(found.st_mode)


def _kind(found: os.stat_result) -> str:
    mode = found.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "another file"
    return "a special file"
