"""Finding a Python interpreter that is already on this machine (proj never downloads one).

A `python:` request from python_env.yaml ("3.11", "3.11.7", or any request uv understands such
as ">=3.10") is matched, in order, against: the interpreter proj runs under, pyenv's versions
folder, then whatever `uv python list` finds (system and uv-managed interpreters). The first two
need no subprocess, so a ready environment starts fast.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from runner.environments.uvtool import uv_binary
from runner.errors import EnvironmentSetupError
from runner.process import ToolError, run_tool

_PLAIN_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # exact, e.g. "3.11.7"
    implementation: str = "cpython"


def find_interpreter(request: str | None) -> Interpreter:
    """The interpreter to build with: the one asked for, else the one proj runs under."""
    if request is None:
        return current_interpreter()
    request = str(request).strip()
    for candidate in _local_candidates():
        if _matches(candidate.version, request):
            return candidate
    found = _uv_interpreters(request)
    if found:
        return found[0]
    raise EnvironmentSetupError(
        f"No Python {request} found on this machine (python: {request!r} in the environment file); "
        f"found: {', '.join(known_versions()) or 'none'}",
        hint=f"install it (for example `pyenv install {request}` or `uv python install {request}`), "
             "or change `python:` to a version listed; proj never downloads interpreters",
    )


def current_interpreter() -> Interpreter:
    # Inside a virtual environment sys.executable is the venv's; environments are built from the
    # interpreter it was made from.
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(Path(base), platform.python_version(), sys.implementation.name)


def known_versions() -> list[str]:
    """Every interpreter version found, for error messages."""
    versions = {i.version for i in _local_candidates()} | {i.version for i in _uv_interpreters(None)}
    return sorted(versions, key=_version_tuple)


def _matches(version: str, request: str) -> bool:
    """ "3.11" matches 3.11.x; "3.11.7" only itself. Other request forms are left to uv."""
    if not _PLAIN_VERSION.match(request):
        return False
    wanted = request.split(".")
    return version.split(".")[: len(wanted)] == wanted


def _local_candidates() -> list[Interpreter]:
    return [current_interpreter(), *_pyenv_interpreters()]


def _pyenv_interpreters() -> list[Interpreter]:
    """pyenv's installed CPythons, newest first. Its shims are useless here: a shim for a
    version that is not selected exits with "command not found"."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    try:
        names = [entry.name for entry in os.scandir(root) if re.fullmatch(r"\d+\.\d+\.\d+", entry.name)]
    except OSError:
        return []
    found = []
    for name in sorted(names, key=_version_tuple, reverse=True):
        executable = root / name / "bin" / "python3"
        if executable.exists():
            found.append(Interpreter(executable, name))
    return found


def _uv_interpreters(request: str | None) -> list[Interpreter]:
    """Interpreters uv finds without downloading anything, best first."""
    uv = uv_binary()
    if uv is None:
        return []
    argv = [uv, "python", "list", "--only-installed", "--output-format", "json", "--no-config"]
    try:
        result = run_tool([*argv, *([request] if request else [])], env=_uv_search_env())
        entries = json.loads(result.text[result.text.index("["):])
    except (ToolError, ValueError):
        return []
    return [Interpreter(Path(e["path"]), e["version"], e.get("implementation", "cpython"))
            for e in entries if Path(e["path"]).exists()]


def _uv_search_env() -> dict[str, str]:
    """uv's own search, minus pyenv shim folders: uv stops at the first shim that fails."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.rstrip("/").endswith("/shims"))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)  # an active venv is not an interpreter to build from
    return env


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])
