"""Project archives: a .zip or tar file (local, or at an http(s)/file URL) unpacked for one run.

MLflow runs zip URIs; proj also takes tar archives. The archive is downloaded (at most the size
limit), hashed, and unpacked (runner.unpack) into a folder of its own under
`$PROJ_HOME/unpacked/`, removed when the run ends; folders left by a proj that died are removed
by the next one. The run records the archive's SHA-256.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from runner.errors import SourceError
from runner.host import hostname
from runner.locations import cache_dir, user_path

if TYPE_CHECKING:
    from runner.unpack import Limits

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_LIMIT_HINT = " (PROJ_ARCHIVE_MAX_BYTES raises the limit)"
_HOLDERS = "holders"

Progress = Callable[[str], None]


class UnpackedArchive(NamedTuple):
    """An archive unpacked for one run."""

    folder: Path  # everything of this run's copy
    tree: Path  # the unpacked archive, named after it (a project without a name is called so)
    sha256: str


def is_archive(location: str) -> bool:
    """Whether a path or URL names an archive, by its file name as MLflow does (`.zip`)."""
    path = urlsplit(location).path if "://" in location else location
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def fetch_archive(location: str, shown_as: str, progress: Progress) -> UnpackedArchive:
    """Download (an http(s) URL) or read (a path or file: URL) the archive and unpack it."""
    # zipfile, tarfile and hashlib: only for archives (every `proj run` checks whether it names one)
    from runner.download import DOWNLOAD_SCHEMES, download
    from runner.unpack import Limits, unpack

    limits = Limits.from_environment()
    _reap_stale()
    folder = cache_dir("unpacked") / f"{os.urandom(6).hex()}-{hostname()}-{os.getpid()}"
    folder.mkdir(mode=0o700)
    try:
        scheme = urlsplit(location).scheme.lower() if "://" in location else ""
        if scheme in DOWNLOAD_SCHEMES:
            progress(f"downloading {shown_as}")
            archive = folder / "archive"
            sha256 = download(location, archive, shown_as=f"archive {shown_as}", max_bytes=limits.max_bytes,
                              limit_hint=_LIMIT_HINT)
        else:
            archive = user_path(unquote(urlsplit(location).path) if scheme == "file" else location)
            if not archive.is_file():
                raise SourceError(f"Cannot run {shown_as}: no such archive file")
            sha256 = _hash_file(archive, limits, shown_as)
        progress(f"unpacking {shown_as}")
        tree = folder / _tree_name(location)
        tree.mkdir(mode=0o755)
        unpack(archive, tree, limits, shown_as=shown_as)
        if scheme in DOWNLOAD_SCHEMES:
            archive.unlink()
    except BaseException:
        import shutil  # here: shutil imports its compression modules (start-up budget)

        shutil.rmtree(folder, ignore_errors=True)
        raise
    return UnpackedArchive(folder, tree, sha256)


def _tree_name(location: str) -> str:
    """`https://host/x/wine-model.tar.gz` → `wine-model`."""
    name = PurePosixPath(urlsplit(location).path if "://" in location else location).name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return name if name and name != _HOLDERS and name != "archive" else "project"


def remove(folder: Path) -> None:
    import shutil  # here: shutil imports its compression modules (start-up budget)

    shutil.rmtree(folder, ignore_errors=True)


def keep(folder: Path, holders: Iterable[str]) -> None:
    """Let the folder outlive this process for jobs a scheduler starts later (as git checkouts)."""
    (folder / _HOLDERS).mkdir(exist_ok=True)
    for holder in holders:
        (folder / _HOLDERS / holder).touch()


def is_unpacked(path: Path) -> bool:
    """Whether `path` is the tree of an unpacked archive (what a kept job's record names)."""
    return path.parent.parent == cache_dir("unpacked")


def release_kept(tree: Path, holder: str) -> None:
    """`holder` no longer needs the unpacked archive; the last one removes it."""
    holders = tree.parent / _HOLDERS
    (holders / holder).unlink(missing_ok=True)
    if not (holders.is_dir() and any(holders.iterdir())):
        remove(tree.parent)


def list_unpacked() -> list[tuple[Path, list[str], bool]]:
    """Every unpacked archive's folder: the runs holding it (`keep`), and whether a proj on this
    host that has died made it."""
    from runner.procfs import process_alive

    host, found = hostname(), []
    for folder in sorted(cache_dir("unpacked").iterdir()):
        _id, _, rest = folder.name.partition("-")
        owner_host, _, pid = rest.rpartition("-")
        holders = sorted(p.name for p in (folder / _HOLDERS).glob("*"))
        found.append((folder, holders, owner_host == host and pid.isdigit() and not process_alive(int(pid))))
    return found


def _hash_file(path: Path, limits: Limits, shown_as: str) -> str:
    from runner.download import copy_hashed

    with open(path, "rb") as handle:
        return copy_hashed(handle, None, shown_as=f"archive {shown_as}", max_bytes=limits.max_bytes,
                           limit_hint=_LIMIT_HINT)


def _reap_stale() -> None:
    """Remove folders left on this host by a proj that died, unless a scheduled job holds them."""
    from runner.procfs import process_alive

    host = hostname()
    for folder in cache_dir("unpacked").iterdir():
        _id, _, rest = folder.name.partition("-")
        owner_host, _, pid = rest.rpartition("-")
        held = (folder / _HOLDERS).is_dir() and any((folder / _HOLDERS).iterdir())
        if owner_host == host and pid.isdigit() and not process_alive(int(pid)) and not held:
            remove(folder)
