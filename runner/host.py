"""Facts about this machine for run records, read without costly calls.

`platform.platform()` reads the interpreter's binary to find the C library version (about 7 ms)
and `socket` costs 2 ms to import; `proj run` is budgeted to a tenth of a second, so these come
from `os.uname()` instead. Likewise `shutil` (which imports its compression modules) only for
`which`: `program_on_path` answers the same.
"""

from __future__ import annotations

import os
import sys


def hostname() -> str:
    return os.uname().nodename


def platform_label() -> str:
    """`Linux-6.1.0-x86_64`: system, kernel release and machine, like the start of platform.platform()."""
    system = os.uname()
    return f"{system.sysname}-{system.release}-{system.machine}"


def python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def program_on_path(name: str) -> str | None:
    """The file `name` runs as from $PATH, as `shutil.which(name)` finds it on POSIX: the first
    executable file (not a folder) of that name in PATH's folders, or None."""
    if os.path.dirname(name):
        return name if _executable(name) else None
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH") or os.defpath
        except (AttributeError, ValueError):
            path = os.defpath
    seen: set[str] = set()
    for folder in path.split(os.pathsep) if path else []:
        if folder not in seen:
            seen.add(folder)
            candidate = os.path.join(folder, name)
            if _executable(candidate):
                return candidate
    return None


def _executable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)
