"""Small real file systems for fault tests: a tmpfs of a chosen size, a read-only bind mount,
and filling one up to the last byte. Mounting needs root; without it the test is skipped (or
fails, when PROJ_REQUIRE names root)."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from conftest import require


@contextmanager
def mounted(kind: str, target: Path, source: Path | None = None, size: str = "256k") -> Iterator[Path]:
    """`tmpfs` of `size` at `target`, or `readonly`: `source` bound read-only at `target`."""
    require("root", os.geteuid() == 0, "mounting a test file system needs root")
    target.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)]
    else:
        command = ["mount", "--bind", str(source), str(target)]
    if subprocess.run(command, capture_output=True).returncode != 0:
        require("root", False, "this machine does not allow mounts")
    try:
        if kind == "readonly":
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(ballast: Path, leave: int = 0) -> None:
    """Fill the file system that holds `ballast` to the last byte, then give back `leave` bytes."""
    with open(ballast, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    if leave:
        os.truncate(ballast, max(0, ballast.stat().st_size - leave))


def free_bytes(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize
