"""Reading a run's files without ever leaving the run's folder.

A run's own code can put anything in its folder while proj reads it: a symlink to /etc where its
output folder was, a FIFO or a link to /dev/zero named metrics.jsonl, a folder where a file is
expected. So every read starts at a folder the run cannot replace (the store's `runs/`), and
opens each path component below it relative to its parent's descriptor with O_NOFOLLOW: a link
put in at any depth, at any moment, is refused rather than followed. Only regular files are read,
and they are opened without blocking, so a FIFO can never hang proj.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
# Folders nested deeper than this are not listed: each level holds a descriptor while it is walked.
MAX_DEPTH = 64


class RunFileError(ValueError):
    """A path inside a run that proj will not read: it would leave the run's folder, or it is
    not a regular file. `reason` says which, in words meant for the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r} {reason}")
        self.path = path
        self.reason = reason


class NotAFileError(RunFileError):
    """The path exists but is a folder, a FIFO, a device or a socket."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path, f"is {kind}, not a regular file")
        self.kind = kind


def relative_parts(relative: str) -> tuple[str, ...]:
    """The components of a relative path a user or a program gave (`.` and empty parts dropped).

    Raises RunFileError for absolute paths, `..`, and NUL bytes: nothing named this way may
    point outside the folder it is relative to."""
    if "\0" in relative:
        raise RunFileError(relative, "contains a NUL byte")
    if relative.startswith(("/", "\\")):
        raise RunFileError(relative, "must be relative to the run's output folder")
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if ".." in parts:
        raise RunFileError(relative, "must stay inside the run's output folder ('..' is not allowed)")
    return tuple(part for part in parts if part not in ("", "."))


class RunFolder(NamedTuple):
    """A folder of a run: `trusted/parts...`, where `trusted` is a folder the run cannot swap
    (the store's own) and every part below it is opened without following links."""

    trusted: Path
    parts: tuple[str, ...]

    @property
    def path(self) -> Path:
        return self.trusted.joinpath(*self.parts)

    def open(self, relative: str) -> BinaryIO:
        """The regular file at `relative`, opened for reading in binary.

        FileNotFoundError when nothing is there; RunFileError for a link on the way, or for
        something other than a regular file."""
        parts = relative_parts(relative)
        if not parts:
            raise NotAFileError(relative or ".", "a folder")
        with self._directory(parts[:-1], relative) as folder:
            return _open_regular(folder, parts[-1], relative)

    def files(self, relative: str = "") -> Iterator[tuple[str, int]]:
        """(path relative to this folder, size) of each regular file under `relative`, sorted.

        Links, FIFOs and devices are left out; linked folders are not entered. Nothing is
        yielded when the folder itself is missing or is not a folder."""
        parts = relative_parts(relative)
        prefix = "/".join(parts)
        try:
            with self._directory(parts, relative) as top:
                yield from _walk(top, prefix, MAX_DEPTH)
        except (FileNotFoundError, RunFileError):
            return

    def entries(self, relative: str = "", *, folders: bool) -> list[str]:
        """Names of the sub-folders (or else of the regular files) directly in `relative`, sorted;
        none when it is missing or not a folder. Links are neither."""
        parts = relative_parts(relative)
        wanted = stat.S_ISDIR if folders else stat.S_ISREG
        try:
            with self._directory(parts, relative) as top, os.scandir(top) as scan:
                return sorted(e.name for e in scan if wanted(e.stat(follow_symlinks=False).st_mode))
        except (OSError, RunFileError):
            return []

    def child(self, *names: str) -> RunFolder:
        """The folder `names` below this one, reached the same way."""
        return RunFolder(self.trusted, (*self.parts, *names))

    @contextmanager
    def _directory(self, parts: Sequence[str], shown: str) -> Iterator[int]:
        """A descriptor of `trusted/self.parts/parts`, reached without following any link."""
        fd = os.open(self.trusted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in (*self.parts, *parts):
                child = _enter(fd, part, shown)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)


def is_regular_file(path: Path) -> bool:
    """True for a regular file itself, False for a link (whatever it points to) or anything else."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_without_links(path: Path) -> BinaryIO:
    """`path` opened for reading, refused (RunFileError) when it is a link or not a regular file:
    for files proj listed as regular a moment ago and now sends on (uploads)."""
    with RunFolder(path.parent, ())._directory((), path.name) as folder:
        return _open_regular(folder, path.name, str(path))


def _enter(parent: int, name: str, shown: str) -> int:
    """Open the folder `name` in `parent`; never through a link."""
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as err:
        if err.errno in (errno.ENOTDIR, errno.ELOOP):
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            raise RunFileError(shown, "goes through a symlink" if stat.S_ISLNK(info.st_mode)
                               else f"goes through {_kind(info.st_mode)}, not a folder") from None
        raise


def _open_regular(folder: int, name: str, shown: str) -> BinaryIO:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise RunFileError(shown, "is a symlink, not a regular file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(shown, _kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _walk(top: int, prefix: str, depth: int) -> Iterator[tuple[str, int]]:
    """Regular files below the folder `top`, depth first in name order, never through a link."""
    with os.scandir(top) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        path = f"{prefix}/{entry.name}" if prefix else entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(info.st_mode):
            yield path, info.st_size
        elif stat.S_ISDIR(info.st_mode) and depth > 0:
            try:
                child = os.open(entry.name, _DIRECTORY_FLAGS, dir_fd=top)
            except OSError:
                continue  # swapped for a link or removed since it was listed
            try:
                yield from _walk(child, path, depth - 1)
            finally:
                os.close(child)


def _kind(mode: int) -> str:
    for check, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                        (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink")):
        if check(mode):
            return name
    return "not a regular file"
