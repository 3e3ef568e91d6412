"""Writing a file so that a reader sees its old content or its new content, never half of either.

The data goes to a uniquely named temporary file beside the target (same folder, so the same file
system) and is renamed over the target only once it is complete. Concurrent writers, whether
processes or threads, never share a temporary file; the last rename wins, whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_output(path: Path, *, mode: int = 0o666, durable: bool = False) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` when the block ends without an error.

    On an error (or Ctrl-C) `path` is left as it was and the temporary file is removed.
    `mode` is filtered by the umask like any new file (0o600: readable by the owner only).
    `durable` also flushes the content to disk before the rename, for data that must survive a
    power cut once the call returns (queued updates that nothing else remembers).
    """
    temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise


def write_atomically(path: Path, data: bytes, *, mode: int = 0o666, durable: bool = False) -> None:
    """Replace `path` with `data` in one step (see `atomic_output`)."""
    with atomic_output(path, mode=mode, durable=durable) as handle:
        handle.write(data)
