"""Unpacking a project archive (.zip or tar) so that nothing in it can reach outside its folder.

Every member is checked before it is written: no absolute paths, no `..`, no device files, and
never more bytes or members than the limits allow (counted as written, not as the archive
claims). Symbolic links are made last, once every file is in place, and must resolve inside the
folder; a hard link becomes a copy of a member already unpacked. Files keep only their
executable bit.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from runner.errors import SourceError, UnsafeSourceError, UsageError

_CHUNK = 1 << 20
_MAX_LINK_TARGET = 4096


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # unpacked bytes (and the download's size)
    max_members: int

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(_positive("PROJ_ARCHIVE_MAX_BYTES", 2 << 30), _positive("PROJ_ARCHIVE_MAX_MEMBERS", 100_000))


@dataclass
class _Unpacking:
    root: Path
    limits: Limits
    shown_as: str
    written: int = 0
    members: int = 0
    files: set[str] = field(default_factory=set)
    links: list[tuple[PurePosixPath, str]] = field(default_factory=list)

    def refuse(self, reason: str) -> UnsafeSourceError:
        return UnsafeSourceError(f"Refusing archive {self.shown_as}: {reason}")

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise self.refuse(f"it has more than {self.limits.max_members} members "
                              "(PROJ_ARCHIVE_MAX_MEMBERS raises the limit)")


def unpack(archive: Path, root: Path, limits: Limits, *, shown_as: str) -> None:
    """Unpack `archive` (zip or tar, told apart by content) into the empty folder `root`."""
    state = _Unpacking(root, limits, shown_as)
    try:
        if zipfile.is_zipfile(archive):
            _unpack_zip(archive, state)
        else:
            _unpack_tar(archive, state)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise SourceError(f"Cannot unpack archive {shown_as}: {err}",
                          hint="check that the file is a complete .zip or .tar(.gz/.bz2/.xz) archive") from None
    _make_links(state)


def _unpack_zip(archive: Path, state: _Unpacking) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        if len(members) > state.limits.max_members:
            raise state.refuse(f"it has {len(members)} members, more than {state.limits.max_members} "
                               "(PROJ_ARCHIVE_MAX_MEMBERS raises the limit)")
        _check_size(sum(m.file_size for m in members), state)  # what it claims; what it holds is counted too
        for member in members:
            state.count_member()
            path = _member_path(member.filename, state)
            mode = member.external_attr >> 16
            if path is None:
                continue
            if member.is_dir():
                _make_folder(path, state)
            elif stat.S_ISLNK(mode):
                with bundle.open(member) as handle:
                    target = handle.read(_MAX_LINK_TARGET + 1)
                state.links.append((path, _link_target(target, path, state)))
            else:
                with bundle.open(member) as handle:
                    _write_file(path, handle, bool(mode & 0o111), state)


def _unpack_tar(archive: Path, state: _Unpacking) -> None:
    with tarfile.open(archive, mode="r:*") as bundle:
        for member in _tar_members(bundle, state):
            path = _member_path(member.name, state)
            if path is None:
                continue
            if member.isdir():
                _make_folder(path, state)
            elif member.issym():
                state.links.append((path, _link_target(member.linkname.encode(), path, state)))
            elif member.islnk():
                _copy_hard_link(path, member.linkname, state)
            elif member.isreg():
                handle = bundle.extractfile(member)
                assert handle is not None  # a regular member always has contents
                with handle:
                    _write_file(path, handle, bool(member.mode & 0o111), state)
            else:
                raise state.refuse(f"member {member.name!r} is a device, pipe or other special file")


def _tar_members(bundle: tarfile.TarFile, state: _Unpacking) -> Iterator[tarfile.TarInfo]:
    for member in bundle:  # read one header at a time
        state.count_member()
        yield member


def _member_path(name: str, state: _Unpacking) -> PurePosixPath | None:
    """The member's path inside the folder; None for the folder itself (`./`)."""
    if not name or any(ord(c) < 32 for c in name) or "\\" in name:
        raise state.refuse(f"member {name!r} has a name with control characters or backslashes")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise state.refuse(f"member {name!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise state.refuse(f"member {name!r} leads outside the archive's folder")
    return PurePosixPath(*parts) if parts else None


def _check_size(total: int, state: _Unpacking) -> None:
    if total > state.limits.max_bytes:
        raise state.refuse(f"it unpacks to more than {state.limits.max_bytes} bytes "
                           "(PROJ_ARCHIVE_MAX_BYTES raises the limit)")


def _make_folder(path: PurePosixPath, state: _Unpacking) -> Path:
    target = state.root.joinpath(*path.parts)
    try:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    except FileExistsError:
        raise state.refuse(f"member {path}/ is both a file and a folder") from None
    return target


def _write_file(path: PurePosixPath, handle: IO[bytes], executable: bool, state: _Unpacking) -> None:
    parent = _make_folder(path.parent, state) if path.parent.parts else state.root
    target = parent / path.name
    if target.is_dir():
        raise state.refuse(f"member {path} is both a folder and a file")
    # No links exist yet (they are made last), so O_NOFOLLOW only guards against surprises.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o755 if executable else 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := handle.read(_CHUNK):
            state.written += len(chunk)
            _check_size(state.written, state)
            out.write(chunk)
    state.files.add(path.as_posix())


def _link_target(raw: bytes, path: PurePosixPath, state: _Unpacking) -> str:
    target = raw.decode("utf-8", errors="replace")
    if len(raw) > _MAX_LINK_TARGET or not target or target.startswith("/") or "\0" in target:
        raise state.refuse(f"link {path} points to {target[:80]!r}, outside the archive's folder")
    return target


def _copy_hard_link(path: PurePosixPath, target_name: str, state: _Unpacking) -> None:
    target = _member_path(target_name, state)
    if target is None or target.as_posix() not in state.files:
        raise state.refuse(f"hard link {path} points to {target_name!r}, which is not a file unpacked before it")
    with open(state.root.joinpath(*target.parts), "rb") as handle:
        _write_file(path, handle, os.access(state.root.joinpath(*target.parts), os.X_OK), state)


def _make_links(state: _Unpacking) -> None:
    """The symbolic links, once every file is written (so none is written through a link);
    each must resolve inside the folder, also through the other links."""
    for path, target in state.links:
        folder = state.root
        for part in path.parent.parts:  # never make a link inside another link
            folder = folder / part
            if folder.is_symlink():
                raise state.refuse(f"link {path} is inside the link {folder.relative_to(state.root)}")
            folder.mkdir(mode=0o755, exist_ok=True)
        link = folder / path.name
        if link.exists() or link.is_symlink():
            raise state.refuse(f"link {path} would replace another member")
        os.symlink(target, link)
    root = state.root.resolve()
    for path, target in state.links:
        try:
            resolved = state.root.joinpath(*path.parts).resolve()
        except (RuntimeError, OSError):  # a loop of links
            raise state.refuse(f"link {path} is part of a loop") from None
        if not resolved.is_relative_to(root):
            raise state.refuse(f"link {path} points to {target!r}, outside the archive's folder")


def _positive(variable: str, default: int) -> int:
    text = os.environ.get(variable)
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise UsageError(f"{variable} must be a whole number of {'bytes' if 'BYTES' in variable else 'members'}, "
                         f"got {text!r}")
    return int(text)
