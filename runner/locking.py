"""Inter-process file locks, so that concurrent `proj run`s share caches safely."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def file_lock(path: Path, *, on_wait: Callable[[], None] | None = None,
              timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the duration of the block.

    The kernel releases the lock when the holder dies, so a killed proj never leaves a stale
    lock behind. `on_wait` is called once if another process holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, on_wait, timeout, path)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, on_wait: Callable[[], None] | None, timeout: float | None, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    if on_wait is not None:
        on_wait()
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for the lock {path}") from None
            time.sleep(0.05)
