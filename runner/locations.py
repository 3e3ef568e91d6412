"""Where proj keeps things on disk (its cache home, the default tracking store), and paths as a
user types them."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE_DIR = ".proj"


def proj_home() -> Path:
    """Caches (git mirrors, environments, checkouts): `$PROJ_HOME`, else the XDG cache dir."""
    explicit = os.environ.get("PROJ_HOME")
    if explicit:
        return user_path(explicit).absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return user_path(cache).absolute() / "proj"


def cache_dir(*parts: str) -> Path:
    """A folder under `$PROJ_HOME`, created on first use."""
    path = proj_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_path(written: str | os.PathLike[str]) -> Path:
    """A path as the user wrote it, `~` and `~user` expanded as a shell expands them: a `~name`
    of no known user stays as written (Path.expanduser would raise instead)."""
    return Path(os.path.expanduser(written))
