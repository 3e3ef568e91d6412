"""Finding the store and the project's settings the way git finds its repository.

From the current folder upward, proj looks in each folder for

    .proj/proj.db               a local tracking store
    proj.toml                   proj's settings (top-level keys)
    pyproject.toml              proj's settings under [tool.proj]

The nearest store or configured `tracking_uri` is the store (a configured one beats a `.proj`
in the same folder); the nearest settings file gives the defaults of `proj run`:

    tracking_uri = ".proj"      # a path (relative to the file) or a URI
    experiment = "vision"
    env_manager = "uv"

An option or a variable (`--tracking-uri`, PROJ_TRACKING_URI, MLFLOW_TRACKING_URI, ...) always
beats a settings file. The search never climbs into a folder listed in PROJ_CEILING_DIRECTORIES
(colon-separated, as GIT_CEILING_DIRECTORIES). Nothing found: a new store in ./.proj.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from runner.errors import UsageError
from runner.locations import DEFAULT_STORE_DIR, user_path

SETTINGS_FILE = "proj.toml"
PYPROJECT = "pyproject.toml"
DATABASE = "proj.db"  # what makes a `.proj` folder a store (runner.tracking.local)
KEYS = ("tracking_uri", "experiment", "env_manager")


class ProjectConfig(NamedTuple):
    """proj's settings from the nearest settings file; all None without one."""

    path: Path | None = None  # the file they come from
    tracking_uri: str | None = None
    experiment: str | None = None
    env_manager: str | None = None

    def origin(self, key: str) -> str:
        table = "[tool.proj] " if self.path is not None and self.path.name == PYPROJECT else ""
        return f"{table}{key} in {self.path}"


class StoreChoice(NamedTuple):
    """The tracking URI a command uses, and how it was chosen (shown when a store has no runs)."""

    uri: str
    origin: str  # "--tracking-uri", "PROJ_TRACKING_URI", "tracking_uri in /p/proj.toml", "found", "default"
    searched: tuple[Path, ...] = ()  # the folders looked in, nearest first, when the store was searched for

    def explain(self) -> str:
        """Where the store came from, in words."""
        if self.origin == "found":
            where = "in the current folder" if len(self.searched) == 1 else "above the current folder"
            return f"the store {self.uri} was found {where}"
        if self.origin == "default":
            folders = ", ".join(str(p) for p in self.searched[:6]) + (", ..." if len(self.searched) > 6 else "")
            return (f"no store or {SETTINGS_FILE} was found in {folders}; the default store is ./{DEFAULT_STORE_DIR} "
                    "(give one with --tracking-uri or PROJ_TRACKING_URI)")
        return f"the store {self.uri} comes from {self.origin}"


class _Found(NamedTuple):
    """The store and settings found from a folder upwards."""

    store: Path | None  # the nearest `.proj` store
    store_is_configured: bool  # the nearest is a settings file's tracking_uri, not a `.proj`
    config: ProjectConfig
    searched: tuple[Path, ...]


def locate_store(explicit: str | None, environ: Mapping[str, str] | None = None,
                 start: Path | None = None) -> StoreChoice:
    """`--tracking-uri`, else PROJ_TRACKING_URI, else MLFLOW_TRACKING_URI, else the nearest store
    or configured tracking_uri above the current folder, else `./.proj`."""
    env = os.environ if environ is None else environ
    for origin, candidate in (("--tracking-uri", explicit), ("PROJ_TRACKING_URI", env.get("PROJ_TRACKING_URI")),
                              ("MLFLOW_TRACKING_URI", env.get("MLFLOW_TRACKING_URI"))):
        if candidate:
            return StoreChoice(candidate, origin)
    found = _search(start or Path.cwd(), env)
    if found.store_is_configured:
        assert found.config.tracking_uri is not None
        return StoreChoice(found.config.tracking_uri, found.config.origin("tracking_uri"), found.searched)
    if found.store is not None:
        return StoreChoice(str(found.store), "found", found.searched)
    return StoreChoice(DEFAULT_STORE_DIR, "default", found.searched)


def project_config(start: Path | None = None, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """The settings of the nearest settings file above `start` (the current folder)."""
    return _search(start or Path.cwd(), os.environ if environ is None else environ).config


def _search(start: Path, environ: Mapping[str, str]) -> _Found:
    ceilings = _ceilings(environ.get("PROJ_CEILING_DIRECTORIES", ""))
    searched: list[Path] = []
    config: ProjectConfig | None = None
    folder = start.absolute()
    while True:
        searched.append(folder)
        if config is None:
            config = _settings_in(folder)
            if config is not None and config.tracking_uri is not None:
                return _Found(None, True, config, tuple(searched))
        store = folder / DEFAULT_STORE_DIR
        if (store / DATABASE).is_file():
            return _Found(store, False, config or _nearest_settings(folder.parent, ceilings), tuple(searched))
        if folder.parent == folder or folder.parent in ceilings:
            return _Found(None, False, config or ProjectConfig(), tuple(searched))
        folder = folder.parent


def _nearest_settings(folder: Path, ceilings: set[Path]) -> ProjectConfig:
    """Settings above a `.proj` store that was found first (a project's store in a subfolder)."""
    while True:
        config = _settings_in(folder)
        if config is not None:
            return config
        if folder.parent == folder or folder.parent in ceilings:
            return ProjectConfig()
        folder = folder.parent


def _ceilings(text: str) -> set[Path]:
    return {Path(part).absolute() for part in text.split(os.pathsep) if part and os.path.isabs(part)}


def _settings_in(folder: Path) -> ProjectConfig | None:
    own = folder / SETTINGS_FILE
    if own.is_file():
        return _settings(own, _read_toml(own), "")
    pyproject = folder / PYPROJECT
    try:
        raw = pyproject.read_bytes()
    except OSError:
        return None
    if b"tool" not in raw or b"proj" not in raw:  # most pyproject.toml files: no TOML parser needed
        return None
    tool = _read_toml(pyproject, raw).get("tool")
    table = tool.get("proj") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise UsageError(f"tool.proj in {pyproject} must be a table ([tool.proj]), not {type(table).__name__}")
    return _settings(pyproject, table, "[tool.proj] ")


def _read_toml(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        text = (raw if raw is not None else path.read_bytes()).decode("utf-8")
        return tomllib.loads(text)
    except OSError as err:
        raise UsageError(f"Cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path} is not valid TOML: {err}", hint="fix the file, or remove it") from None


def _settings(path: Path, table: dict[str, Any], where: str) -> ProjectConfig:
    import difflib

    for key, value in table.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"Unknown setting {key!r} in {where}{path}",
                             hint=f"{hint}proj reads {', '.join(KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{where}{key} in {path} must be a non-empty string, not {value!r}")
    uri = table.get("tracking_uri")
    return ProjectConfig(path=path, tracking_uri=None if uri is None else _relative_to(path.parent, uri),
                         experiment=table.get("experiment"), env_manager=table.get("env_manager"))


def _relative_to(folder: Path, uri: str) -> str:
    """A path relative to the settings file's folder; URIs (`http://`, `file:`) as written."""
    if "://" in uri or uri.startswith("file:"):
        return uri
    path = user_path(uri)
    return str(path if path.is_absolute() else folder / path)
