"""Choosing a tracking store from a tracking URI.

A plain path or a `file:` URI is the built-in local store; `http://` and `https://` are an MLflow
tracking server (built in too). Other schemes are looked up among the stores registered under
the entry-point group `proj.tracking_stores` (see docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from runner.errors import PluginError, TrackingError, UsageError
from runner.locations import user_path
from runner.tracking.base import TrackingStore

if TYPE_CHECKING:
    from runner.projectconfig import StoreChoice

ENTRY_POINT_GROUP = "proj.tracking_stores"


def resolve_tracking_uri(explicit: str | None) -> str:
    """`--tracking-uri`, else PROJ_TRACKING_URI, else MLFLOW_TRACKING_URI, else the store found
    above the current folder (runner.projectconfig), else `./.proj`."""
    return choose_store(explicit).uri


def choose_store(explicit: str | None) -> StoreChoice:
    """As `resolve_tracking_uri`, saying how the store was chosen and where proj looked."""
    from runner.projectconfig import locate_store

    choice = locate_store(explicit)
    _refuse_unservable(choice.uri, None if choice.origin in ("found", "default") else choice.origin)
    return choice


def open_store(uri: str) -> TrackingStore:
    _refuse_unservable(uri, None)
    scheme = _scheme(uri)
    if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        from runner.tracking.local import LocalStore

        path = unquote(urlsplit(uri).path) if scheme == "file" else uri
        return LocalStore(user_path(path))
    factory = _plugin_stores().get(scheme)
    if factory is None:
        known = ", ".join(["a path", "file:", *sorted(_plugin_stores())])
        raise TrackingError(f"No tracking store handles {scheme}:// URIs ({uri!r})", hint=f"known: {known}")
    store = factory(uri)
    if not isinstance(store, TrackingStore):
        raise PluginError(f"The tracking store plugin {scheme!r} returned {type(store).__name__}, "
                          "not a runner.tracking.base.TrackingStore")
    return store


# Stores only MLflow itself can write: its SQL databases and Databricks workspaces. A plugin may
# still register one of these schemes; without one, the URI is refused instead of being misread
# (`databricks` would otherwise be a local folder of that name).
_MLFLOW_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
_DATABRICKS = ("databricks", "databricks-uc", "uc")


def _scheme(uri: str) -> str:
    """The URI's scheme; MLflow's bare `databricks` (the default profile) counts as one."""
    bare = uri.strip().lower()
    return bare if bare in _DATABRICKS else urlsplit(uri).scheme.lower()


def _refuse_unservable(uri: str, origin: str | None) -> None:
    scheme = _scheme(uri)
    family = scheme.split("+", 1)[0]  # postgresql+psycopg2, mysql+pymysql, ...
    if family not in _MLFLOW_DATABASES and scheme not in _DATABRICKS:
        return
    if scheme in _plugin_stores():
        return
    uri = _without_password(uri)
    given = uri if origin is None else f"{origin} {uri}" if origin.startswith("-") else f"{origin}={uri}"
    if family in _MLFLOW_DATABASES:
        raise UsageError(
            f"proj cannot record runs in MLflow's database directly ({given})",
            hint=f"serve it with `mlflow server --backend-store-uri {uri}` and give proj the server's address "
                 "(--tracking-uri http://HOST:PORT), or record locally (--tracking-uri PATH)")
    raise UsageError(
        f"proj cannot record runs in Databricks ({given})",
        hint="record on an MLflow tracking server (--tracking-uri http://HOST:PORT) or locally "
             "(--tracking-uri PATH), or install a tracking-store plugin for it (docs/plugins.md)")


def _without_password(uri: str) -> str:
    """`postgresql://ann:secret@host/db` → `postgresql://ann:***@host/db`, for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    userinfo, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}").geturl()


def _plugin_stores() -> dict[str, Callable[[str], object]]:
    from runner.plugins import load_plugins

    return load_plugins(ENTRY_POINT_GROUP, builtins=_builtin_stores(), kind="tracking store")


def _builtin_stores() -> dict[str, Callable[[str], object]]:
    return {"http": _mlflow_store, "https": _mlflow_store}


def _mlflow_store(uri: str) -> TrackingStore:
    from runner.tracking.mlflow import MlflowStore  # urllib and friends only when needed

    return MlflowStore(uri)
