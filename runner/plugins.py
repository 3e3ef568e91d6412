"""Entry-point plugins: built-ins first, duplicates and broken plugins reported clearly."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Callable

from runner.errors import PluginError


@lru_cache(maxsize=None)
def _load(group: str, kind: str, builtin_names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    origins: dict[str, str] = {}
    for entry_point in entry_points(group=group):
        name = entry_point.name
        origin = entry_point.dist.name if entry_point.dist else entry_point.value
        if name in builtin_names:
            raise PluginError(f"The {kind} plugin {name!r} from {origin} clashes with proj's built-in {name!r}")
        if name in found:
            raise PluginError(f"Two {kind} plugins are named {name!r}: {origins[name]} and {origin}",
                              hint="uninstall one of them")
        try:
            found[name] = entry_point.load()
        except Exception as err:  # a plugin's import error must not look like a proj crash
            raise PluginError(f"The {kind} plugin {name!r} from {origin} failed to load: {err}") from err
        origins[name] = origin
    return found


def load_plugins(group: str, *, builtins: dict[str, Callable[..., Any]], kind: str) -> dict[str, Callable[..., Any]]:
    """Built-in factories plus those registered under `group`, by name."""
    return {**builtins, **_load(group, kind, tuple(sorted(builtins)))}
