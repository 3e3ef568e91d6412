"""conda-lock.yml (conda-lock's unified format, version 1): written after a solve, read to install.

The `conda_lock` library does the format work; importing it costs about half a second, so it is
imported inside the two functions here, which run only when an environment is built or locked.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from runner.errors import EnvironmentSetupError, UsageError

CATEGORY = "main"  # conda-lock drops a package with no category when it writes the file


@dataclass(frozen=True)
class LockedPackage:
    """One package of a lock: a conda archive or a Python distribution, with its hashes."""

    manager: str  # "conda" or "pip"
    name: str
    version: str
    url: str
    sha256: str | None = None
    md5: str | None = None
    build: str | None = None  # conda only
    dependencies: tuple[tuple[str, str], ...] = ()  # name → version spec, as conda-lock keeps them


@dataclass(frozen=True)
class LockContents:
    """What a lock lists for one platform."""

    path: Path
    platform: str
    conda: tuple[LockedPackage, ...]
    pip: tuple[LockedPackage, ...]


def render_lock(*, platform: str, channels: Iterable[str], source: str, content_hash: str,
                packages: Iterable[LockedPackage]) -> bytes:
    """The conda-lock.yml text for one platform."""
    from conda_lock.lockfile import write_conda_lock_file
    from conda_lock.lockfile.v2prelim.models import (
        HashModel,
        LockedDependency,
        Lockfile,
        LockMeta,
        TimeMeta,
    )

    locked = [
        LockedDependency(name=p.name, version=p.version, manager=p.manager, platform=platform,
                         dependencies=dict(p.dependencies), url=p.url, build=p.build,
                         hash=HashModel(md5=p.md5, sha256=p.sha256), categories={CATEGORY})
        for p in packages
    ]
    meta = LockMeta(content_hash={platform: content_hash}, channels=list(channels),
                    platforms=[platform], sources=[source], time_metadata=TimeMeta.create())
    with tempfile.TemporaryDirectory(prefix="proj-conda-lock-") as folder:
        path = Path(folder) / "conda-lock.yml"
        write_conda_lock_file(Lockfile(package=locked, metadata=meta), path,
                              metadata_choices=None, include_help_text=False)
        return path.read_bytes()


def read_lock(path: Path, platform: str) -> LockContents:
    """The packages `path` locks for `platform` (category main); errors name the file."""
    import yaml
    from conda_lock.lockfile import parse_conda_lock_file

    try:
        lock = parse_conda_lock_file(path)
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError) as err:  # pydantic: ValueError
        raise UsageError(f"{path} is not a conda-lock file: {_shortened(err)}",
                         hint="write one with `proj env lock` or conda-lock") from err
    platforms = list(lock.metadata.platforms)
    if platform not in platforms:
        raise EnvironmentSetupError(
            f"{path} locks no packages for this machine's platform {platform} "
            f"(it has {', '.join(platforms) or 'none'})",
            hint=f"re-lock on {platform} with `proj env lock`, or `conda-lock -p {platform}`")
    wanted = [p for p in lock.package if p.platform == platform and CATEGORY in p.categories]
    conda = tuple(_locked(p) for p in wanted if p.manager == "conda")
    pip = tuple(_locked(p) for p in wanted if p.manager == "pip")
    return LockContents(path, platform, conda, pip)


def _locked(package: Any) -> LockedPackage:  # a conda_lock model (untyped library)
    return LockedPackage(
        manager=package.manager, name=package.name, version=package.version, url=package.url,
        sha256=package.hash.sha256, md5=package.hash.md5, build=package.build,
        dependencies=tuple(sorted(package.dependencies.items())),
    )


def _shortened(err: BaseException, lines: int = 8) -> str:
    text = (str(err).strip() or type(err).__name__).splitlines()
    return "\n".join(text[:lines] + (["..."] if len(text) > lines else []))
