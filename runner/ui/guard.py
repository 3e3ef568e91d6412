"""What keeps other web pages and other machines out: the Host check, the origin check and the
CSRF token for the few requests that change something, and the headers every response carries.

- Every request must name this machine in its Host header (no DNS rebinding).
- A request that changes something (POST, the only such method routed) must come from one of
  this app's own pages: its Origin header (or, without one, its Referer) must be this server's
  own address, and its form must carry the token this server put in its pages. A page of another
  site can neither read the token nor send this server's origin.
- Every response forbids inline script and style, framing, and content sniffing, and sends the
  referrer only to this server itself (which is also what makes browsers send the Origin header
  of a same-origin form).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CHANGING_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TOKEN_FIELD = "csrf_token"
# No inline script or style anywhere: the policy lets only the app's own files run or style.
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                  b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Token:
    """The CSRF token of one server: random, made when the app is, put into every form."""

    def __init__(self) -> None:
        self.value = secrets.token_urlsafe(32)

    def matches(self, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.value.encode())


class SecurityMiddleware:
    """Refuses requests for other host names and changes from other origins; adds the headers."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, text = refusal
            await PlainTextResponse(text, status_code=status)(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        if self.allowed is not None and host_name(scope) not in self.allowed:
            return 400, "This server only answers requests for the local host."
        if scope["method"] in CHANGING_METHODS and not same_origin(scope):
            return 403, ("Refused: this change did not come from a page of this server "
                         "(its Origin or Referer header names another site, or none).")
        return None

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        return sending


def same_origin(scope: Scope) -> bool:
    """Whether the request's Origin (or, without one, its Referer) is this server's address, as
    its Host header names it. A request with neither (a command-line client) passes here; the
    CSRF token is then what it must have."""
    headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
    host = headers.get(b"host", "").lower()
    origin = headers.get(b"origin")
    if origin is None:
        referer = headers.get(b"referer")
        if referer is None:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower() == f"http://{host}"


def host_name(scope: Scope) -> str:
    """The Host header without its port; an IPv6 address loses its brackets."""
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), "").lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host
