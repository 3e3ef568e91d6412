"""What a conda environment is built from: the environment file normalised, and its cache key.

Channel names are mapped through the channel alias, `-r`/`-c` files made absolute, and the
result hashed (with the platform and the lock, when one is installed) into the cache key. Pure
and light: no rattler, no conda_lock; `conda` (the warm path), `condabuild` and `condasolve`
all read the spec from here.
"""

from __future__ import annotations

import platform as _platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.environments import cache
from runner.environments.conda_section import CondaEnv
from runner.environments.python_section import PythonEnv, referenced_files
from runner.errors import EnvironmentSetupError, UsageError
from runner.locations import user_path
from runner.project import Project

LOCK_FILE_NAME = "conda-lock.yml"
KEPT_LOCK = ".proj-conda-lock.yml"  # the lock of a built environment, inside its prefix
KEPT_BUILD_LOG = ".proj-build.log"
LAYOUT_VERSION = "1"  # bump to rebuild every conda environment after a change in how they are built
DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org/"
# What conda means by `defaults` on Linux and macOS when no alias is configured.
DEFAULTS_CHANNELS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")


@dataclass(frozen=True)
class CondaOptions:
    """How to build a conda environment (from `proj run` options)."""

    conda_channel_alias: str | None = None  # mirror for channel names such as conda-forge
    frozen: bool = False  # install only what a lock lists; never solve
    lock_file: Path | None = None  # an explicit lock to install (re-runs, --lock)
    verbose: bool = False  # show build output live



@dataclass(frozen=True)
class CondaSpec:
    """A conda environment file, normalised: everything the environment is built from."""

    file: Path
    platform: str
    channels: tuple[str, ...]  # URLs, in priority order, after the alias mapping
    specs: tuple[str, ...]  # match specs as written (a `name::` channel mapped like channels)
    pip: tuple[str, ...]  # pip lines, with `-r`/`-c` files made absolute
    variables: tuple[tuple[str, str], ...]
    alias: str  # the channel alias in force (a URL ending in "/")
    referenced: tuple[Path, ...] = ()  # files named by `-r`/`-c` in the pip list

    def key_parts(self) -> list[tuple[str, bytes | str]]:
        parts: list[tuple[str, bytes | str]] = [
            ("layout", LAYOUT_VERSION),
            ("platform", self.platform),
            ("channels", "\n".join(self.channels)),
            ("specs", "\n".join(sorted(self.specs))),  # order does not change a solve
            ("pip", "\n".join(self.pip)),
        ]
        for path in self.referenced:
            parts.append((f"file:{path}", _read_bytes(path, named_in=self.file)))
        return parts



def environment_key(spec: CondaSpec, lock: Path | None) -> str:
    """The cache key: the normalised spec, the platform and the lock's bytes when one is used."""
    parts = spec.key_parts()
    if lock is not None:
        parts.append(("lock", _read_bytes(lock)))
    return cache.content_key("conda", parts)


def environment_metadata(spec: CondaSpec, lock: Path | None, project_root: Path) -> dict[str, Any]:
    return {"kind": "conda", "project": str(project_root), "platform": spec.platform, "channels": list(spec.channels),
            "specs": list(spec.specs), "pip": list(spec.pip), "env_file": str(spec.file),
            "lock_file": str(lock) if lock else None}


# --- the environment file, normalised -------------------------------------------------------

def conda_spec(project: Project, alias: str | None) -> CondaSpec:
    """The project's conda environment, with channels mapped through `alias` (see docs/conda.md)."""
    env = project.environment
    if isinstance(env, PythonEnv):
        env = _from_python_env(env)
    if not isinstance(env, CondaEnv):
        raise UsageError("--env-manager conda needs a project with a conda_env (conda.yaml) "
                         "or a python_env file")
    base = env.file.parent
    alias_url = channel_alias_url(alias)
    names = [c for c in env.channels if c != "nodefaults"] or ["defaults"]
    channels = tuple(dict.fromkeys(url for name in names for url in channel_urls(name, alias_url, base)))
    specs = tuple(_map_spec_channel(" ".join(s.split()), alias_url, base) for s in env.dependencies)
    pip, referenced = _absolute_pip_files(env.pip, base)
    return CondaSpec(file=env.file, platform=current_platform(), channels=channels, specs=specs,
                     pip=pip, variables=env.variables, alias=alias_url, referenced=referenced)


def channel_alias_url(alias: str | None) -> str:
    """The alias as a URL ending in `/`: a mirror URL as given, a local folder as file://."""
    if not alias:
        return DEFAULT_CHANNEL_ALIAS
    if "://" in alias:
        return alias.rstrip("/") + "/"
    folder = user_path(alias)
    if not folder.is_dir():
        raise UsageError(f"conda channel alias {alias!r} is neither a URL nor an existing folder",
                         hint="give a mirror URL (https://mirror.example/conda/) or a folder "
                              "holding one sub-folder per channel (conda-forge/noarch/...)")
    return folder.resolve().as_uri() + "/"


def channel_urls(channel: str, alias_url: str, base: Path) -> list[str]:
    """The URLs a channel entry stands for: a URL as is, a path as file://, a name via the alias."""
    if "://" in channel:
        return [channel.rstrip("/")]
    if channel.startswith(("/", "./", "../", "~")) or channel in (".", ".."):
        return [(base / user_path(channel)).resolve().as_uri()]
    if channel == "defaults" and alias_url == DEFAULT_CHANNEL_ALIAS:
        return list(DEFAULTS_CHANNELS)
    return [alias_url + channel.strip("/")]


def mirrored_url(url: str, alias_url: str) -> str:
    """A package URL of a lock file, redirected to the alias when it points at the default one."""
    if alias_url != DEFAULT_CHANNEL_ALIAS and url.startswith(DEFAULT_CHANNEL_ALIAS):
        return alias_url + url[len(DEFAULT_CHANNEL_ALIAS):]
    return url


def current_platform() -> str:
    """This machine's conda subdir (`linux-64`, `osx-arm64`, ...), without importing rattler."""
    machine = _platform.machine().lower()
    system = sys.platform  # a plain str: mypy would otherwise drop the other systems' branches
    if system.startswith("linux"):
        arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "aarch64",
                "i686": "32"}.get(machine, machine)
        return f"linux-{arch}"
    if system == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    if system == "win32":
        return "win-arm64" if machine == "arm64" else "win-64"
    raise EnvironmentSetupError(f"conda environments are not supported on {system}/{machine}")


def _map_spec_channel(spec: str, alias_url: str, base: Path) -> str:
    """`conda-forge::numpy` names a channel too: map it like the channels list."""
    channel, sep, rest = spec.partition("::")
    if not sep or "://" in channel:
        return spec
    return f"{channel_urls(channel, alias_url, base)[0]}::{rest}"


def _absolute_pip_files(lines: tuple[str, ...], base: Path) -> tuple[tuple[str, ...], tuple[Path, ...]]:
    """`-r reqs.txt` is relative to the environment file; uv reads it from a temporary folder."""
    pip, referenced = [], []
    for line in lines:
        line = line.strip()
        for name in referenced_files((line,)):
            path = (base / name).resolve()
            referenced.append(path)
            line = line.replace(name, str(path))
        pip.append(line)
    return tuple(pip), tuple(referenced)


def _from_python_env(env: PythonEnv) -> CondaEnv:
    """MLflow's conversion for `--env-manager conda` on a python_env project."""
    dependencies = (f"python={env.python}", "pip") if env.python else ("python", "pip")
    return CondaEnv(file=env.file, name=None, channels=("conda-forge",), dependencies=dependencies,
                    pip=env.build_dependencies + env.dependencies)


def _read_bytes(path: Path, named_in: Path | None = None) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        where = f" (named in {named_in})" if named_in else ""
        raise EnvironmentSetupError(f"Cannot read {path}{where}: {err.strerror}") from err


