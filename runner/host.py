"""Facts about this machine for run records, read without costly calls.

`platform.platform()` reads the interpreter's binary to find the C library version (about 7 ms)
and `socket` costs 2 ms to import; `proj run` is budgeted to a tenth of a second, so these come
from `os.uname()` instead.
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
