"""Room set aside on a local store's disk, so that a run's end can be recorded on a full disk.

A run writes its outputs and its log beside its store, and may fill that disk. Its end must
still be written: status, exit code, end time. So the local store sets aside RESERVE_BYTES of
real blocks (allocated, not a sparse file) for each run it starts, in `reserved/<run id>`, and
gives them back when a write at the run's end finds the disk full: half for the end-of-run
summaries, then the rest for the final status. The file goes when the run ends, whoever ends it
(`proj runs refresh` recording a run LOST removes what the dead proj left).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

RESERVE_BYTES = 1024 * 1024  # a run's end needs a few pages of SQLite; summaries and captures more
FOLDER = "reserved"
_ZEROS = bytes(64 * 1024)


class SpaceReserve:
    """The reserves of the runs of one store, one file per run below `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def set_aside(self, run_id: str) -> None:
        """Allocate the run's reserve; OSError (ENOSPC) when the disk cannot spare it."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        path = self._path(run_id)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            _allocate(fd, RESERVE_BYTES)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)

    def give_back(self, run_id: str, *, everything: bool) -> bool:
        """Free half of the run's reserve (all of it with `everything`); False when there was
        nothing left to free."""
        path = self._path(run_id)
        try:
            size = path.stat().st_size
            if size == 0:
                return False
            if everything or size <= RESERVE_BYTES // 2:
                path.unlink()
            else:
                os.truncate(path, size // 2)
        except FileNotFoundError:
            return False
        return True

    def drop(self, run_id: str) -> None:
        """The run has ended: its reserve is no longer needed."""
        try:
            self._path(run_id).unlink()
        except FileNotFoundError:
            pass

    def _path(self, run_id: str) -> Path:
        return self.folder / run_id


def _allocate(fd: int, size: int) -> None:
    """Real blocks for `size` bytes: posix_fallocate where the file system has it, else zeros
    (a sparse file would reserve nothing)."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    written = 0
    while written < size:
        written += os.write(fd, _ZEROS[: size - written])
