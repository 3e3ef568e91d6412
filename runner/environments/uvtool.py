"""The uv executable that the `uv` PyPI package ships, and whether it runs on this machine."""

from __future__ import annotations

import os
from functools import lru_cache

from runner.process import ToolError, run_tool


@lru_cache(maxsize=1)
def uv_binary() -> str | None:
    """The uv executable shipped by the `uv` PyPI package, or None when it is missing."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        path = find_uv_bin()
    except FileNotFoundError:
        return None
    return path if os.access(path, os.X_OK) else None


def uv_runs() -> bool:
    """Whether uv can actually run here (it is a native binary: wrong libc, noexec mounts...)."""
    uv = uv_binary()
    if uv is None:
        return False
    try:
        run_tool([uv, "--version"])
    except ToolError:
        return False
    return True
