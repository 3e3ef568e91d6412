"""Choosing a tracking store from a tracking URI.

A plain path or a `file:` URI is the built-in local store; `http://` and `https://` are an MLflow
tracking server (built in too). Other schemes are looked up among the stores registered under
the entry-point group `proj.tracking_stores` (see docs/plugins.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from runner.errors import TrackingError
from runner.locations import DEFAULT_STORE_DIR
from runner.tracking.base import TrackingStore

ENTRY_POINT_GROUP = "proj.tracking_stores"


def resolve_tracking_uri(explicit: str | None) -> str:
    """`--tracking-uri`, else PROJ_TRACKING_URI, else MLFLOW_TRACKING_URI, else `./.proj`."""
    for candidate in (explicit, os.environ.get("PROJ_TRACKING_URI"), os.environ.get("MLFLOW_TRACKING_URI")):
        if candidate:
            return candidate
    return DEFAULT_STORE_DIR


def open_store(uri: str) -> TrackingStore:
    scheme = urlsplit(uri).scheme
    if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        from runner.tracking.local import LocalStore

        path = unquote(urlsplit(uri).path) if scheme == "file" else uri
        return LocalStore(Path(path).expanduser())
    factory = _plugin_stores().get(scheme)
    if factory is None:
        known = ", ".join(["a path", "file:", *sorted(_plugin_stores())])
        raise TrackingError(f"No tracking store handles {scheme}:// URIs ({uri!r})", hint=f"known: {known}")
    return factory(uri)


def _plugin_stores() -> dict:
    from runner.plugins import load_plugins

    return load_plugins(ENTRY_POINT_GROUP, builtins=_builtin_stores(), kind="tracking store")


def _builtin_stores() -> dict:
    return {"http": _mlflow_store, "https": _mlflow_store}


def _mlflow_store(uri: str) -> TrackingStore:
    from runner.tracking.mlflow import MlflowStore  # urllib and friends only when needed

    return MlflowStore(uri)
