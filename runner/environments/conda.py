"""Conda environments without conda: solved and installed by py-rattler, locked in conda-lock format.

    prepare()  spec → content key → (cached prefix | solve or read the lock → install → pip) → activate

The environment file is normalised here (channel names mapped through the channel alias, paths
made absolute) and hashed into the cache key. A ready environment is reused without importing
rattler or conda_lock: the warm path reads only the cache marker and the lock kept in the prefix.
Solving and installing live in `condasolve`, the lock format in `condalock`, the pip step in
`condapip`; each imports its heavy library only when it is called.
"""

from __future__ import annotations

import platform as _platform
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from runner.envfiles import CondaEnv, PythonEnv, referenced_files
from runner.environments import cache
from runner.environments.base import Environment, HostInvocation, PreparedEnvironment, Progress
from runner.errors import EnvironmentSetupError, UsageError

LOCK_FILE_NAME = "conda-lock.yml"
KEPT_LOCK = ".proj-conda-lock.yml"  # the lock of a built environment, inside its prefix
KEPT_BUILD_LOG = ".proj-build.log"
LAYOUT_VERSION = "1"  # bump to rebuild every conda environment after a change in how they are built
DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org/"
# What conda means by `defaults` on Linux and macOS when no alias is configured.
DEFAULTS_CHANNELS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")


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


@dataclass(frozen=True)
class CondaPreparedEnvironment(PreparedEnvironment):
    """A ready conda prefix; the command runs after the prefix's activation scripts, as conda does."""

    activation_scripts: tuple[str, ...] = ()

    def invocation(self, command: str, cwd: Path, base_env: Mapping[str, str]) -> HostInvocation:
        invocation = self.host_invocation(command, cwd, base_env)
        if not self.activation_scripts:
            return invocation
        prelude = "".join(f". {shlex.quote(script)}\n" for script in self.activation_scripts)
        return replace(invocation, argv=(*invocation.argv[:-1], prelude + command))


class CondaEnvironment(Environment):
    name = "conda"

    def __init__(self, project, options) -> None:
        self.project = project
        self.options = options

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        spec = conda_spec(self.project, self.options.conda_channel_alias)
        lock = self._lock_to_install(spec)
        if self.options.frozen and lock is None:
            raise UsageError(
                f"--frozen installs only from a lock, and there is no {LOCK_FILE_NAME} next to "
                f"{spec.file}",
                hint=f"write one with `proj env lock {self.project.root}`, or pass --lock FILE")
        key = environment_key(spec, lock)
        environment = cache.find(key)
        if environment is None:  # only now: the build path imports rattler (and conda_lock)
            from runner.environments.condabuild import CondaBuild

            builder = CondaBuild(spec, lock, self.options, progress, key)
            environment = cache.ensure(key, builder.build, finish=builder.finish,
                                       metadata=environment_metadata(spec, lock, self.project.root),
                                       progress=progress)
        return activated(environment, spec)

    def lock_files(self, progress: Progress) -> dict[str, bytes]:
        """Solve the environment file afresh (ignoring a shipped lock) and return conda-lock.yml."""
        spec = conda_spec(self.project, self.options.conda_channel_alias)
        from runner.environments.condabuild import fresh_lock

        lock = spec.file.parent / LOCK_FILE_NAME
        try:  # relative to the project folder when the environment file is inside it
            name = lock.relative_to(self.project.root).as_posix()
        except ValueError:
            name = str(lock)
        return {name: fresh_lock(spec, self.options, progress, self.project.root)}

    def _lock_to_install(self, spec: CondaSpec) -> Path | None:
        if self.options.lock_file is not None:
            path = Path(self.options.lock_file).expanduser().absolute()
            if not path.is_file():
                raise UsageError(f"--lock {self.options.lock_file}: no such file")
            return path
        shipped = spec.file.parent / LOCK_FILE_NAME
        return shipped if shipped.is_file() else None


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


def activated(environment: cache.CachedEnvironment, spec: CondaSpec) -> CondaPreparedEnvironment:
    """How to run inside the prefix: conda's variables, PATH and activate.d scripts (no rattler)."""
    prefix = environment.path
    variables = {"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": str(prefix), "CONDA_SHLVL": "1"}
    variables.update(spec.variables)
    scripts = tuple(str(p) for p in sorted((prefix / "etc" / "conda" / "activate.d").glob("*.sh")))
    kept_lock = prefix / KEPT_LOCK
    meta = environment.metadata
    return CondaPreparedEnvironment(
        kind="conda",
        key=environment.key,
        python=meta.get("python"),
        lock=kept_lock.read_bytes() if kept_lock.is_file() else None,
        lock_name=LOCK_FILE_NAME,
        build_log=_build_log(prefix) if environment.built_now else b"",
        details={"prefix": str(prefix), "platform": spec.platform, "channels": list(spec.channels),
                 "installed_from": meta.get("installed_from"), "packages": meta.get("packages"),
                 "reused": not environment.built_now},
        variables=variables,
        path_prepend=(str(prefix / "bin"),),
        activation_scripts=scripts,
    )


# --- the environment file, normalised -------------------------------------------------------

def conda_spec(project, alias: str | None) -> CondaSpec:
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
    folder = Path(alias).expanduser()
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
        return [(base / Path(channel).expanduser()).resolve().as_uri()]
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
    if sys.platform.startswith("linux"):
        arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "aarch64",
                "i686": "32"}.get(machine, machine)
        return f"linux-{arch}"
    if sys.platform == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    if sys.platform == "win32":
        return "win-arm64" if machine == "arm64" else "win-64"
    raise EnvironmentSetupError(f"conda environments are not supported on {sys.platform}/{machine}")


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


def _build_log(prefix: Path) -> bytes:
    try:
        return (prefix / KEPT_BUILD_LOG).read_bytes()
    except OSError:
        return b""
