"""Docker build contexts made by proj itself: which project files go in, their hash, the tar.

proj never hands the daemon a folder to read. It walks the project, applies the project's
`.dockerignore` (with Docker's own matching rules) after a few default exclusions, keeps a
symlink only when it resolves inside the project (a link to `~/.ssh` must not leak anything
into an image), hashes what is left, and writes the tar that is sent to the daemon from that
same list. The hash covers paths, permission bits, contents and link targets, never times,
so an unchanged project always hashes the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

IGNORE_FILE = ".dockerignore"
# Never part of an image unless the project's .dockerignore re-includes them with `!`:
# version-control internals (rewritten by a mere `git status`), proj's and MLflow's default
# tracking stores (they grow with every run), and Python's bytecode caches.
DEFAULT_IGNORES = (".git", ".proj", "mlruns", "**/__pycache__")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ContextEntry:
    path: str  # relative to the project, with "/" separators
    kind: str  # file | dir | symlink
    mode: int  # permission bits
    size: int = 0
    mtime: float = 0.0
    target: str = ""  # where a symlink points (relative)
    digest: str = ""  # sha256 of a file's contents


@dataclass(frozen=True)
class BuildContext:
    root: Path
    entries: tuple[ContextEntry, ...]
    digest: str  # sha256 of every entry, in path order
    skipped_links: tuple[str, ...]  # symlinks left out because they point outside the project


def scan_context(root: Path, *, always_include: Iterable[str] = ()) -> BuildContext:
    """The files of `root` that belong in an image, hashed."""
    root = root.resolve()
    patterns = compile_patterns([*DEFAULT_IGNORES, *read_ignore_file(root / IGNORE_FILE)])
    forced = set(always_include)
    entries: list[ContextEntry] = []
    skipped: list[str] = []
    for folder, dirs, files in os.walk(root):
        relative_folder = Path(folder).relative_to(root).as_posix()
        kept_dirs = []
        for name in sorted(dirs) + sorted(files):
            path = name if relative_folder == "." else f"{relative_folder}/{name}"
            if is_ignored(path, patterns) and path not in forced:
                continue
            entry = _entry(root, path)
            if entry is None:
                skipped.append(path)
            elif entry.kind != "skip":
                entries.append(entry)
                if entry.kind == "dir":
                    kept_dirs.append(name)
        if not any(pattern.negated for pattern in patterns):
            dirs[:] = kept_dirs  # nothing can re-include a file below an ignored folder
        else:
            dirs[:] = sorted(dirs)
    present = {entry.path for entry in entries}
    for path in sorted(forced - present):  # e.g. a Dockerfile inside a folder that is ignored
        entry = _entry(root, path)
        if entry is not None and entry.kind == "file":
            entries.append(entry)
    entries.sort(key=lambda entry: entry.path)
    return BuildContext(root, tuple(entries), _digest(entries), tuple(skipped))


def _entry(root: Path, path: str) -> ContextEntry | None:
    """The entry for one path; None for a symlink leaving the project, kind "skip" for others."""
    full = root / path
    info = full.lstat()
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        target = _link_inside(root, full)
        return None if target is None else ContextEntry(path, "symlink", mode, mtime=info.st_mtime, target=target)
    if stat.S_ISDIR(info.st_mode):
        return ContextEntry(path, "dir", mode, mtime=info.st_mtime)
    if stat.S_ISREG(info.st_mode):
        return ContextEntry(path, "file", mode, info.st_size, info.st_mtime, digest=_file_digest(full))
    return ContextEntry(path, "skip", mode)  # sockets, fifos, devices: nothing to copy


def _link_inside(root: Path, link: Path) -> str | None:
    """The link's target as a relative path when it resolves inside `root`, else None."""
    resolved = Path(os.path.realpath(link))
    if resolved != root and not resolved.is_relative_to(root):
        return None
    target = os.readlink(link)
    if os.path.isabs(target):  # /home/me/project/data would not exist in the image
        target = os.path.relpath(resolved, os.path.realpath(link.parent))
    return target


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(entries: list[ContextEntry]) -> str:
    digest = hashlib.sha256(b"proj-context/1\0")
    for entry in entries:
        digest.update(f"{entry.kind}\0{entry.path}\0{entry.mode:o}\0{entry.target}\0{entry.digest}\0".encode())
    return digest.hexdigest()


def write_context_tar(context: BuildContext, out: IO[bytes], *, prefix: str = "",
                      extra_files: dict[str, bytes] | None = None) -> None:
    """Write the build context as an uncompressed tar: the entries under `prefix`, plus
    `extra_files` (such as a generated Dockerfile) at the top."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (extra_files or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, _BytesReader(data))
        for entry in context.entries:
            if prefix + entry.path in (extra_files or {}):
                continue  # the generated file wins over a project file of the same name
            info = tarfile.TarInfo(prefix + entry.path)
            info.mode, info.mtime, info.uid, info.gid = entry.mode, int(entry.mtime), 0, 0
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                tar.addfile(info)
            else:
                info.size = entry.size
                with open(context.root / entry.path, "rb") as handle:
                    tar.addfile(info, handle)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk, self.offset = self.data[self.offset:end], min(end, len(self.data))
        return chunk


# --- .dockerignore, with the rules of Docker's own pattern matcher -----------------------------


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    regex: re.Pattern[str]
    negated: bool


def read_ignore_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def compile_patterns(lines: Iterable[str]) -> list[IgnorePattern]:
    patterns = []
    for line in lines:
        negated = line.startswith("!")
        text = line[1:].strip() if negated else line
        text = os.path.normpath(text.lstrip("/")).replace(os.sep, "/") if text.lstrip("/") else "."
        if text == ".":
            continue  # Docker ignores a pattern that names the context itself
        patterns.append(IgnorePattern(text, re.compile(_pattern_regex(text)), negated))
    return patterns


def is_ignored(path: str, patterns: list[IgnorePattern]) -> bool:
    """Docker's rule: the last pattern matching the path, or one of its parent folders, wins."""
    parents = path.split("/")[:-1]
    ignored = False
    for pattern in patterns:
        if pattern.negated != ignored:
            continue  # cannot change the outcome
        matched = bool(pattern.regex.match(path)) or any(
            pattern.regex.match("/".join(parents[: i + 1])) for i in range(len(parents)))
        if matched:
            ignored = not pattern.negated
    return ignored


def _pattern_regex(pattern: str) -> str:
    """Translate a Docker ignore pattern: `**` spans folders, `*` and `?` stay within one."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                i += 1
            out.append(".*" if i >= len(pattern) else "(.*/)?")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)
