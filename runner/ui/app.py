"""The ASGI application: routes, error pages, and the headers every response carries.

Read-only by construction: every route answers GET (and HEAD) only. The store is opened once per
worker thread, because a SQLite connection must stay in the thread that opened it.
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
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runner.errors import ProjError, RunNotFoundError, TrackingError
from runner.lifecycle import needs_refresh
from runner.runfilter import as_number
from runner.runview import duration, size, when
from runner.tracking.base import TrackingStore
from runner.ui import api, downloads, pages, selections
from runner.ui.jsonresponse import JSON
from runner.ui.numbers import exact, is_number, rounded

HERE = Path(__file__).resolve().parent
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# No inline script or style anywhere: the policy lets only the app's own files run or style.
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                  b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


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
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={ProjError: _proj_error, HTTPException: _http_error})
    app.state.stores = StoreProvider(store_uri)
    app.state.templates = _templates()
    return SecurityMiddleware(app, allowed_hosts)


def _templates() -> Environment:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(when=lambda t: when(t) if t is not None else "-", duration=duration, size=size,
                               shown=_shown, last_part=_last_part, rounded=rounded, exact=exact)
    environment.tests["number"] = is_number  # `value is number`: an int or float, not a bool
    environment.tests["numeric_text"] = lambda text: as_number(str(text)) is not None  # a CSV cell
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


# --- headers -----------------------------------------------------------------------------------

class SecurityMiddleware:
    """Refuses requests for other host names (DNS rebinding) and adds the security headers."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed is not None and _host_name(scope) not in self.allowed:
            response = PlainTextResponse("This server only answers requests for the local host.", status_code=400)
            await response(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        return sending


def _host_name(scope: Scope) -> str:
    """The Host header without its port; an IPv6 address loses its brackets."""
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), "").lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host

