"""The ASGI application: routes, error pages, and the guard every request passes (runner.ui.guard).

Every route answers GET (and HEAD) only and reads, but one: POST /runs/ID/actions/NAME, the
few changes the app makes (runner.ui.actions). The store is opened once per worker thread, for
reading, because a SQLite connection must stay in the thread that opened it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from runner.errors import ProjError, RunNotFoundError, TrackingError
from runner.lifecycle import needs_refresh
from runner.runfilter import as_number
from runner.runview import duration, size, when
from runner.tracking.base import TrackingStore
from runner.ui import actions, api, downloads, pages, selections
from runner.ui.guard import LOOPBACK_NAMES, SecurityMiddleware, Token
from runner.ui.jsonresponse import JSON
from runner.ui.numbers import exact, is_number, rounded

HERE = Path(__file__).resolve().parent


class StoreProvider:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._local = threading.local()

    def get(self) -> TrackingStore:
        store = getattr(self._local, "store", None)
        if store is None:
            from runner.tracking import open_store

            store = self._local.store = open_store(self.uri)
        return store


def create_app(store_uri: str, *, allowed_hosts: Iterable[str] | None = LOOPBACK_NAMES) -> ASGIApp:
    """The app for the store at `store_uri`; `allowed_hosts=None` accepts any Host header."""
    routes = [
        Route("/", pages.runs_page),
        Route("/runs/{run_id}", pages.run_page),
        Route("/compare", selections.compare_page),
        Route("/sweeps/{sweep_id}", selections.sweep_page),
        Route("/runs/{run_id}/artifacts/{path:path}", downloads.artifact),
        Route("/runs/{run_id}/preview/{path:path}", pages.preview_page),
        Route("/runs/{run_id}/image/{path:path}", downloads.image),
        Route("/runs/{run_id}/files/{name}", downloads.attachment),
        Route("/api/runs", api.runs),
        Route("/api/runs/{run_id}", api.run),
        Route("/api/runs/{run_id}/metrics", api.metrics),
        Route("/api/runs/{run_id}/log", api.log),
        Route("/api/compare", api.compare),
        Route("/runs/{run_id}/actions/{action}", actions.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={ProjError: _proj_error, HTTPException: _http_error})
    app.state.stores = StoreProvider(store_uri)
    app.state.templates = _templates()
    app.state.token = Token()
    app.state.actions = allowed_hosts is not None  # changes only when the Host check guards loopback
    return SecurityMiddleware(app, allowed_hosts)


def _templates() -> Environment:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(when=lambda t: when(t) if t is not None else "-", duration=duration, size=size,
                               shown=_shown, last_part=_last_part, rounded=rounded, exact=exact)
    environment.tests["number"] = is_number  # `value is number`: an int or float, not a bool
    environment.tests["numeric_text"] = lambda text: as_number(str(text)) is not None  # a CSV cell
    environment.tests["startswith"] = lambda text, prefix: str(text).startswith(prefix)  # `is startswith("mlflow.")`
    environment.globals["needs_refresh"] = needs_refresh  # shown, never written: the UI only reads
    return environment


def _shown(value: Any) -> str:
    """A recorded value as text: None is shown as a dash, text as it is, anything else as Python writes it."""
    return "-" if value is None else value if isinstance(value, str) else repr(value)


def _last_part(text: str, width: int) -> str:
    """The end of a long path or URL, which tells more than its beginning."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


# --- errors ------------------------------------------------------------------------------------

def _status_of(err: ProjError) -> int:
    if isinstance(err, RunNotFoundError):
        return 404
    return 503 if isinstance(err, TrackingError) else 400


async def _proj_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, ProjError)
    return _error(request, _status_of(err), str(err))


async def _http_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, HTTPException)
    return _error(request, err.status_code, err.detail, err.headers)


def _error(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if request.url.path.startswith("/api/"):
        return JSON({"error": message, "status": status}, status_code=status, headers=headers)
    return pages.render(request, "error.html", status_code=status, headers=headers, status=status, message=message)
