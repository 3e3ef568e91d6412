"""proj's standard streams, made safe before a command runs.

- A descriptor 0, 1 or 2 that was closed (`proj run ... >&-`) is opened on /dev/null: otherwise
  the next file proj opens (its store's database) would take that number, and output meant for
  the terminal would be written into it.
- proj's own messages on stderr never fail a command: a stderr that cannot be written
  (`2>/dev/full`, a reader gone) loses the messages, never the run or its record.
- Results on stdout: a reader that goes away (`| head`) ends them quietly; any other write error
  (`>/dev/full`) is an OutputError (exit 126), once, never a traceback.
- The command's own output (`proj run`) goes to `CommandOutput`, which never stops the run:
  its first write error is kept for a warning, and the run's log still has everything.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, BinaryIO, cast

from runner.errors import OutputError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_READER_GONE = (errno.EPIPE, errno.ECONNRESET)


def install() -> None:
    """Open what is closed of 0, 1 and 2, and put guarded writers on sys.stdout and sys.stderr."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            _reopen_on_devnull(fd)
    sys.stdout = _text(sys.stdout, _Sink(1, "standard output", quiet=False), "strict", lines=False)
    sys.stderr = _text(sys.stderr, _Sink(2, "standard error", quiet=True), "backslashreplace", lines=True)


class CommandOutput:
    """Where `proj run` copies the command's output as it comes (besides the run's log):
    stdout, or stderr when stdout carries a JSON document."""

    def __init__(self, fd: int = 1) -> None:
        self.fd = fd
        self.name = "stdout" if fd == 1 else "stderr"
        self.error: str | None = None  # why the output stopped reaching it, if it did

    @property
    def terminal(self) -> BinaryIO:
        """This, as the `terminal` a backend writes to (it calls only write and flush)."""
        return cast(BinaryIO, self)

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as err:
            if err.errno in _READER_GONE:
                self.error = ""  # `proj run ... | head`: nothing to warn about
            else:
                self.error = err.strerror or str(err)

    def flush(self) -> None:
        pass


class _Sink(io.RawIOBase):
    """A standard descriptor, written through os.write, with proj's rules for failures."""

    def __init__(self, fd: int, name: str, *, quiet: bool) -> None:
        super().__init__()
        self.fd, self.name, self.quiet = fd, name, quiet
        self.failed = False  # once a write failed, the rest is dropped (exit flushes must not fail)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: ReadableBuffer) -> int:
        size = memoryview(data).nbytes
        if self.failed:
            return size
        try:
            return os.write(self.fd, data)
        except OSError as err:
            self.failed = True
            if err.errno in _READER_GONE:
                _reopen_on_devnull(self.fd)  # Python flushes at exit; that flush must not fail
                return size
            if self.quiet:
                return size
            raise OutputError(f"Cannot write to {self.name}: {err.strerror or err}",
                              hint="make room where it goes, or send it elsewhere") from None


def _text(original: object, sink: _Sink, errors: str, *, lines: bool) -> io.TextIOWrapper:
    """A text stream on `sink` that encodes as the one Python set up (if any) did; line by line
    on a terminal (and always for stderr, as Python does), else in blocks."""
    encoding = getattr(original, "encoding", None) or "utf-8"
    errors = getattr(original, "errors", None) or errors
    return io.TextIOWrapper(io.BufferedWriter(sink), encoding=encoding, errors=errors,
                            line_buffering=lines or sink.isatty())


def _reopen_on_devnull(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
