"""Environment kinds by name: the built-ins, and plugins under the entry-point group `proj.environments`.

The built-in kinds (local, virtualenv, conda, docker) are registered exactly as a plugin is: a
name and an object that makes the kind. A plugin's entry point names its kind and points at an
`EnvironmentKind` subclass (or any callable returning an instance); see docs/plugins.md,
"Environment kind plugins".

Installed plugins are read only when a name or an MLproject key is not a built-in one, so a
project using the built-in kinds never pays for scanning every installed distribution.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from runner.environments.kind import EnvironmentKind, EnvironmentSettings
from runner.errors import PluginError, ProjError, UsageError
from runner.project import Project

ENTRY_POINT_GROUP = "proj.environments"
# Top-level MLproject keys that are not environments; no kind may claim one.
CORE_KEYS = ("name", "entry_points", "databricks_spark_job")


def _local() -> EnvironmentKind:
    from runner.environments.local import LocalKind

    return LocalKind()


def _virtualenv() -> EnvironmentKind:
    from runner.environments.virtualenv_kind import VirtualenvKind

    return VirtualenvKind()


def _conda() -> EnvironmentKind:
    from runner.environments.conda_kind import CondaKind

    return CondaKind()


def _docker() -> EnvironmentKind:
    from runner.environments.docker_kind import DockerKind

    return DockerKind()


# In the order MLflow falls back through conventional files (python_env.yaml before conda.yaml).
BUILTINS: dict[str, Callable[[], EnvironmentKind]] = {
    "local": _local, "virtualenv": _virtualenv, "conda": _conda, "docker": _docker,
}


@lru_cache(maxsize=None)
def builtin_kinds() -> tuple[EnvironmentKind, ...]:
    return tuple(_checked(name, factory) for name, factory in BUILTINS.items())


@lru_cache(maxsize=None)
def all_kinds() -> tuple[EnvironmentKind, ...]:
    """Built-ins first, then every installed plugin kind; clashes are refused (PluginError)."""
    from runner.plugins import load_plugins

    factories = load_plugins(ENTRY_POINT_GROUP, builtins=dict(BUILTINS), kind="environment kind")
    plugins = tuple(_checked(name, factory) for name, factory in factories.items() if name not in BUILTINS)
    kinds = builtin_kinds() + plugins
    _refuse_clashes(kinds)
    return kinds


def get_kind(name: str) -> EnvironmentKind:
    """The kind recorded as `name` (a run's environment kind); UsageError listing the known ones."""
    kind = find_kind(name)
    if kind is None:
        raise UsageError(f"Unknown environment kind {name!r}; known: {', '.join(k.name for k in all_kinds())}",
                         hint="a plugin kind must be installed where proj runs (docs/plugins.md)")
    return kind


def find_kind(name: str) -> EnvironmentKind | None:
    for kind in _search(lambda k: k.name == name, builtin_only=name in BUILTINS):
        return kind
    return None


def kind_for_manager(manager: str) -> EnvironmentKind:
    """The kind an `--env-manager` value chooses (a kind's name or one of its synonyms)."""
    for kind in _search(lambda k: manager in k.managers):
        return kind
    raise UsageError(f"Unknown environment manager {manager!r}; choose one of {', '.join(manager_names())}")


def kind_for_section(section: str) -> EnvironmentKind | None:
    """The kind that reads the MLproject key `section`, if any installed kind does."""
    if section in CORE_KEYS:
        return None
    for kind in _search(lambda k: k.section == section):
        return kind
    return None


def manager_names(*, builtin_only: bool = False) -> list[str]:
    kinds = builtin_kinds() if builtin_only else all_kinds()
    return [manager for kind in kinds for manager in kind.managers]


def builtin_sections() -> tuple[str, ...]:
    return tuple(k.section for k in builtin_kinds() if k.section)


def choose_kind(project: Project, requested: str | None) -> EnvironmentKind:
    """The kind to run `project` in: the one `--env-manager` asked for, else the one owning the
    section the project declares, else local (MLflow's rules, docs/environments.md). A section
    whose kind is exclusive (docker_env) wins over --env-manager, as in MLflow; the caller says
    so when the kind returned is not the one asked for."""
    declared = project.environment
    owner = kind_for_section(declared.section) if declared is not None else None
    if requested is None:
        return owner or get_kind("local")
    kind = kind_for_manager(requested)
    if owner is not None and owner.exclusive:
        return owner
    kind.check_project(project)
    return kind


def ignored_flags(kind: EnvironmentKind, given: EnvironmentSettings) -> list[str]:
    """A warning for each flag given that belongs to another kind than the one the run uses."""
    own = {option.setting for option in kind.options}
    return [f"{option.flag_name} applies to {other.name} environments, and this run uses {kind.name}: ignored"
            for other in builtin_kinds() if other is not kind for option in other.options
            if option.setting in given.flags and option.setting not in own and option.envvar is None]


def _search(match: Callable[[EnvironmentKind], bool], *, builtin_only: bool = False) -> list[EnvironmentKind]:
    """Kinds that match, looking among the built-ins first and at plugins only if none does."""
    found = [k for k in builtin_kinds() if match(k)]
    if found or builtin_only:
        return found
    return [k for k in all_kinds() if match(k)]


def _checked(name: str, factory: Callable[[], Any]) -> EnvironmentKind:
    try:
        kind = factory()
    except ProjError:
        raise
    except Exception as err:  # a plugin's bug must not look like a proj crash
        raise PluginError(f"The environment kind plugin {name!r} failed to start: {err}") from err
    if not isinstance(kind, EnvironmentKind):
        raise PluginError(f"The environment kind plugin {name!r} made {type(kind).__name__}, not an EnvironmentKind")
    if kind.name != name:
        raise PluginError(f"The environment kind plugin {name!r} calls itself {kind.name!r}",
                          hint="the entry point's name must be the kind's `name`")
    return kind


def _refuse_clashes(kinds: tuple[EnvironmentKind, ...]) -> None:
    """No two kinds may answer to one --env-manager value or read one MLproject key."""
    managers: dict[str, str] = {}
    sections: dict[str, str] = {key: "proj's MLproject format" for key in CORE_KEYS}
    for kind in kinds:
        for manager in kind.managers:
            if manager in managers and managers[manager] != kind.name:
                raise PluginError(f"The environment kinds {managers[manager]!r} and {kind.name!r} both answer to "
                                  f"--env-manager {manager}", hint="uninstall one of them")
            managers[manager] = kind.name
        if kind.section:
            if kind.section in sections:
                raise PluginError(f"The environment kind {kind.name!r} reads the MLproject key {kind.section!r}, "
                                  f"which belongs to {sections[kind.section]}", hint="uninstall one of them")
            sections[kind.section] = f"the {kind.name!r} kind"

