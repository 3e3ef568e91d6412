"""The content-addressed environment cache under `$PROJ_HOME/envs/`.

    envs/<key>/                 a complete environment (it holds the marker below)
    envs/<key>/.proj-env.json   the completeness marker: kind, inputs, lock, when built and used
    envs/<key>.lock             held while the environment is built (or removed)
    envs/.staging-<key>-<pid>/  a build in progress; renamed to envs/<key> when it succeeds

An environment without the marker is never used: it is what a killed build left, and the next
build of that key removes it. The build of one key happens under its file lock, so any number
of concurrent `proj run`s of a new spec build it once and then all use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from runner.atomicfile import write_atomically
from runner.locations import cache_dir
from runner.locking import file_lock

MARKER = ".proj-env.json"
STAGING_PREFIX = ".staging-"

Builder = Callable[[Path, Path], dict[str, Any]]
Finisher = Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class CachedEnvironment:
    key: str
    path: Path
    metadata: dict[str, Any]
    built_now: bool  # False when an existing environment was reused

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "?"))


def content_key(kind: str, parts: Iterable[tuple[str, bytes | str]]) -> str:
    """A stable hash of everything an environment is built from (named, in a fixed order)."""
    digest = hashlib.sha256(f"proj-env/1\0{kind}\0".encode())
    for name, value in sorted(parts, key=lambda part: part[0]):
        data = value.encode() if isinstance(value, str) else value
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return f"{kind}-{digest.hexdigest()[:24]}"


def envs_root() -> Path:
    return cache_dir("envs")


def find(key: str) -> CachedEnvironment | None:
    """The complete environment with this key, or None (incomplete ones do not count)."""
    path = envs_root() / key
    metadata = _read_marker(path)
    if metadata is None:
        return None
    _touch(path, metadata)
    return CachedEnvironment(key, path, metadata, built_now=False)


def ensure(key: str, build: Builder, *, finish: Finisher | None = None,
           metadata: dict[str, Any], progress: Callable[[str], None]) -> CachedEnvironment:
    """Reuse the environment `key`, or build it exactly once across concurrent processes.

    `build(staging, final)` creates the environment in `staging`; it must work once `staging`
    is renamed to `final` (relocatable venvs, conda's alternative target prefix). `finish(final)`
    runs after the rename for steps that need the final path. Both return metadata to record.
    """
    found = find(key)
    if found is not None:
        return found
    root = envs_root()
    final = root / key
    with file_lock(root / f"{key}.lock", on_wait=lambda: progress(f"waiting for another proj building {key}")):
        found = find(key)  # built by whoever held the lock before us
        if found is not None:
            return found
        _remove_leftovers(root, key)
        staging = root / f"{STAGING_PREFIX}{key}-{os.getpid()}"
        try:
            recorded = dict(metadata)
            recorded.update(build(staging, final))
            os.rename(staging, final)
            if finish is not None:
                recorded.update(finish(final))
            recorded.update(key=key, built_at=time.time())
            _write_marker(final, recorded)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
    return CachedEnvironment(key, final, _read_marker(final) or recorded, built_now=True)


def list_environments() -> list[CachedEnvironment]:
    root = envs_root()
    found = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            metadata = _read_marker(path)
            if metadata is not None:
                found.append(CachedEnvironment(path.name, path, metadata, built_now=False))
    return found


def remove(key: str) -> bool:
    """Delete one environment (under its lock, so never while it is being built)."""
    root = envs_root()
    if "/" in key or key.startswith(".") or not (root / key).exists():
        return False
    with file_lock(root / f"{key}.lock"):
        marker = root / key / MARKER
        marker.unlink(missing_ok=True)  # incomplete from here on: nobody starts using it
        shutil.rmtree(root / key, ignore_errors=True)
    return True


def prune(older_than_seconds: float, *, dry_run: bool = False) -> list[tuple[str, str]]:
    """Remove what killed builds left, and environments unused for `older_than_seconds`.

    Returns (folder name, reason) for each removal. A folder whose build is running right now
    is left alone (its key's lock is held). Lock files stay: deleting one that another process
    holds would let two builds of the same key run at once.
    """
    removed = []
    for path, key in _leftovers(envs_root()):
        if dry_run or _remove_if_idle(path, key):
            removed.append((path.name, "incomplete (a build that was killed or failed)"))
    cutoff = time.time() - older_than_seconds
    for environment in list_environments():
        if last_used(environment) < cutoff and (dry_run or remove(environment.key)):
            removed.append((environment.key, "not used since " + time.strftime(
                "%Y-%m-%d %H:%M", time.localtime(last_used(environment)))))
    return removed


def incomplete() -> list[tuple[Path, str]]:
    """Folders of builds that were killed or failed, with their key (none is ever used)."""
    return _leftovers(envs_root())


def remove_incomplete(path: Path, key: str) -> bool:
    """Remove one of `incomplete()`, unless its build runs right now."""
    return _remove_if_idle(path, key)


def _leftovers(root: Path) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        if path.name.startswith(STAGING_PREFIX):
            found.append((path, path.name[len(STAGING_PREFIX):].rsplit("-", 1)[0]))
        elif not path.name.startswith(".") and _read_marker(path) is None:
            found.append((path, path.name))
    return found


def _remove_if_idle(path: Path, key: str) -> bool:
    try:
        with file_lock(path.parent / f"{key}.lock", timeout=0):
            if path.name == key and _read_marker(path) is not None:
                return False  # finished by its builder since we looked
            shutil.rmtree(path, ignore_errors=True)
            return True
    except TimeoutError:
        return False  # being built right now


def last_used(environment: CachedEnvironment) -> float:
    return float(environment.metadata.get("last_used", environment.metadata.get("built_at", 0)))


def size_of(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _remove_leftovers(root: Path, key: str) -> None:
    """Whatever a killed build of `key` left; called with the key's lock held."""
    shutil.rmtree(root / key, ignore_errors=True)
    for staging in root.glob(f"{STAGING_PREFIX}{key}-*"):
        shutil.rmtree(staging, ignore_errors=True)


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        metadata = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return metadata if isinstance(metadata, dict) else None


def _write_marker(path: Path, metadata: dict[str, Any]) -> None:
    # atomic: the marker is whole or absent, and concurrent writers never share a file
    write_atomically(path / MARKER, json.dumps(metadata, indent=2, default=str).encode())


def _touch(path: Path, metadata: dict[str, Any]) -> None:
    """Record the last use for `proj env prune`; at most once a minute, and never fatal."""
    now = time.time()
    if now - float(metadata.get("last_used", 0)) < 60:
        return
    metadata["last_used"] = now
    try:
        _write_marker(path, metadata)
    except OSError:
        pass
