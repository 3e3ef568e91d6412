"""Where proj keeps things on disk: its cache home and the default tracking store."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE_DIR = ".proj"


def proj_home() -> Path:
    """Caches (git mirrors, environments, checkouts): `$PROJ_HOME`, else the XDG cache dir."""
    explicit = os.environ.get("PROJ_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().absolute() / "proj"


def cache_dir(*parts: str) -> Path:
    """A folder under `$PROJ_HOME`, created on first use."""
    path = proj_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
