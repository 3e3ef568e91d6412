"""The tools that build Python environments: uv (the default), and virtualenv + pip.

Both take the same steps (create, resolve, install, install a lock, check), run through
`BuildLog`, which captures every line for the run's build.log and shows it live with --verbose.
The caller turns a failed step (ToolError) into an error that names the requirement.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.environments.pycache import compile_at_build
from runner.environments.python_interpreters import Interpreter
from runner.environments.uvtool import uv_binary
from runner.process import run_tool


class BuildLog:
    """Every command and output line of one build, in order."""

    def __init__(self, progress: Callable[[str], None], verbose: bool) -> None:
        self.progress = progress
        self.verbose = verbose
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(f"==> {message}")
        self.progress(message)

    def run(self, argv: list[str], *, cwd: Path) -> str:
        self.lines.append("$ " + shlex.join(argv))
        started = time.monotonic()
        result = run_tool(argv, cwd=cwd, env=_tool_environment(), on_line=self._line)
        self.lines.append(f"    ({time.monotonic() - started:.2f} s)")  # where a slow build goes
        return str(result.output)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def _line(self, line: str) -> None:
        self.lines.append(line)
        if self.verbose:
            self.progress(f"  {line}")


def _tool_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # each command names its target environment itself
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def python_in(env: Path) -> Path:
    return env / "bin" / "python"


def _install_options() -> list[str]:
    """Nothing is compiled at build time unless the user asks (see pycache.py: Python caches
    what a run imports). uv reads UV_COMPILE_BYTECODE itself; the flag keeps the record plain."""
    return ["--compile-bytecode"] if compile_at_build() else []


class UvInstaller:
    name = "uv"

    def __init__(self, log: BuildLog, cwd: Path) -> None:
        self.uv = uv_binary() or "uv"
        self.log = log
        self.cwd = cwd

    def create(self, target: Path, interpreter: Interpreter) -> None:
        # Relocatable: built in a staging folder, the environment still works once renamed.
        self.log.run([self.uv, "venv", "--relocatable", "--no-project", "--python", str(interpreter.path),
                      str(target)], cwd=self.cwd)

    def resolve(self, requirements: Path, python: Path, output: Path) -> str:
        """Pin every requirement with its hashes, for `python` (an interpreter or an env's)."""
        self.log.run([self.uv, "pip", "compile", "--python", str(python), "--generate-hashes", "--no-header",
                      "--no-annotate", str(requirements), "-o", str(output)], cwd=self.cwd)
        return output.read_text()

    def install(self, target: Path, requirements: Path, constraints: Path | None = None) -> None:
        extra = ["-c", str(constraints)] if constraints is not None else []
        self.log.run([self.uv, "pip", "install", *_install_options(), "--python", str(python_in(target)),
                      "-r", str(requirements), *extra], cwd=self.cwd)

    def install_lock(self, target: Path, lock: Path, require_hashes: bool) -> None:
        """Exactly the lock: nothing resolved, hashes checked."""
        self.log.run([self.uv, "pip", "sync", *_install_options(), "--python", str(python_in(target)),
                      *(["--require-hashes"] if require_hashes else []), str(lock)], cwd=self.cwd)

    def check(self, target: Path) -> None:
        self.log.run([self.uv, "pip", "check", "--python", str(python_in(target))], cwd=self.cwd)


class PipInstaller:
    """virtualenv + pip: the fallback. virtualenv environments are not relocatable, so this one
    is built at its final path (the cache's marker still keeps a half-built one from use)."""

    name = "pip"

    def __init__(self, log: BuildLog, cwd: Path) -> None:
        self.log = log
        self.cwd = cwd
        self.reports: list[Path] = []

    def create(self, target: Path, interpreter: Interpreter) -> None:
        self.log.run([sys.executable, "-m", "virtualenv", "--no-periodic-update", "--quiet",
                      "--python", str(interpreter.path), str(target)], cwd=self.cwd)

    def install(self, target: Path, requirements: Path, constraints: Path | None = None) -> None:
        report = requirements.with_suffix(".report.json")
        self.reports.append(report)
        extra = ["-c", str(constraints)] if constraints is not None else []
        self._pip(target, "install", *_pip_compile_option(), "--report", str(report), "-r", str(requirements),
                  *extra)

    def install_lock(self, target: Path, lock: Path, require_hashes: bool) -> None:
        self._pip(target, "install", "--no-deps", *_pip_compile_option(),
                  *(["--require-hashes"] if require_hashes else []), "-r", str(lock))

    def check(self, target: Path) -> None:
        self._pip(target, "check")

    def installed_lock(self, target: Path) -> str:
        """The installed set as a lock: versions from `pip inspect`, hashes and URLs from the
        install reports. Packages virtualenv seeded itself (pip, ...) have no hash to check, so
        they are listed as comments: a lock with some hashes missing cannot be installed by pip."""
        inspected = json.loads(self._pip(target, "inspect", quiet=True))
        origins = self._report_origins()
        lines, seeded = [], []
        for dist in sorted(inspected["installed"], key=lambda d: _normalise(d["metadata"]["name"])):
            name, version = dist["metadata"]["name"], dist["metadata"]["version"]
            origin = origins.get(_normalise(name))
            if origin is None or origin[0] != version:
                seeded.append(f"{name}=={version}")
            else:
                lines.append(_pinned(name, version, *origin[1:]))
        if seeded:
            lines.append("# installed by virtualenv itself, not pinned: " + " ".join(seeded))
        return "\n".join(lines) + "\n"

    def _report_origins(self) -> dict[str, tuple[str, dict[str, Any], bool]]:
        """name -> (version, download_info, is_direct) from pip's JSON installation reports."""
        origins = {}
        for report in self.reports:
            for item in json.loads(report.read_text()).get("install", []):
                name = _normalise(item["metadata"]["name"])
                origins[name] = (item["metadata"]["version"], item.get("download_info") or {},
                                 bool(item.get("is_direct")))
        return origins

    def _pip(self, target: Path, *args: str, quiet: bool = False) -> str:
        argv = [str(python_in(target)), "-m", "pip", *args]
        if quiet:  # machine-readable output: keep it out of the build log
            return run_tool(argv, cwd=self.cwd, env=_tool_environment()).text
        return self.log.run([*argv, "--progress-bar", "off"] if args[0] == "install" else argv, cwd=self.cwd)


def _pip_compile_option() -> list[str]:
    """pip compiles every module it installs unless told not to; see _install_options."""
    return [] if compile_at_build() else ["--no-compile"]


def _pinned(name: str, version: str, download: dict[str, Any], is_direct: bool) -> str:
    sha256 = (download.get("archive_info") or {}).get("hashes", {}).get("sha256")
    url = download.get("url", "")
    if "vcs_info" in download:
        vcs = download["vcs_info"]
        entry = f"{name} @ {vcs['vcs']}+{url}@{vcs.get('commit_id', '')}"
    elif (download.get("dir_info") or {}).get("editable"):
        entry = f"-e {url}"
    elif is_direct:
        entry = f"{name} @ {url}"
    else:
        entry = f"{name}=={version}"
    return entry + (f" \\\n    --hash=sha256:{sha256}" if sha256 else "")


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


Installer = UvInstaller | PipInstaller
