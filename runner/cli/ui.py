"""`proj ui`: serve the web app over a local store (runner/ui/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from runner.cli.app import app
from runner.cli.output import note, warn
from runner.errors import UsageError

if TYPE_CHECKING:  # the socket module for `proj ui` only: `proj --help` loads this module
    import socket


@app.command("ui")
def ui(
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above]."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(5000, "--port", min=0, max=65535, help="The port to listen on (0: any free port)."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a --host other than this machine's loopback (there is no login)."),
) -> None:
    """Find, compare and choose runs of a local store in a browser; tag, rename, delete and restore them.

    Example: proj ui --port 0 (any free port; the address is printed)
    """
    _check_ui_installed()
    from runner.tracking import open_store, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise UsageError(f"proj ui shows a local store; {uri} is an MLflow server",
                         hint="open that server's own web UI, or give --tracking-uri a local store folder")
    store = open_store(uri)
    uri = store.uri  # a local store's absolute path: what the pages and the message show
    from runner.tracking.base import RunQuery

    store.list_runs(RunQuery(limit=1))  # a store that cannot be read is refused now, not on every page
    loopback = _is_loopback(host)
    if not loopback and not allow_remote:
        raise UsageError(f"Refusing to serve on {host}: proj ui has no authentication, so anyone who can reach "
                         "that address could read every run", hint="add --allow-remote if that is what you want")
    listener = _listen(host, port)
    if not loopback:
        warn(f"serving on {host} without authentication: anyone who can reach it can read every run, "
             "its logs and its artifacts")
    _serve(uri, listener, host if loopback else None)


def _check_ui_installed() -> None:
    from runner.extras import require_extra

    require_extra("ui", "proj ui")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, opened here so that a taken port is a clear error, and port 0 works."""
    import socket

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise UsageError(f"Cannot listen on {host!r}: {err.strerror}",
                         hint="give --host an address or name of this machine") from None
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as err:
        listener.close()
        raise UsageError(f"Cannot listen on {host} port {port}: {err.strerror}",
                         hint="choose another port with --port (0 picks a free one)") from None
    return listener


def _serve(uri: str, listener: socket.socket, loopback_host: Optional[str]) -> None:
    """Serve until Ctrl-C. On a loopback address, only requests naming this machine are answered
    (DNS rebinding): the loopback names, and the address given with --host (such as 127.0.0.2)."""
    import uvicorn

    from runner.ui.app import create_app
    from runner.ui.guard import LOOPBACK_NAMES

    host, port = listener.getsockname()[:2]
    allowed = None if loopback_host is None else (*LOOPBACK_NAMES, loopback_host.strip("[]").lower(), host)
    web_app = create_app(uri, allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    # Changes are offered on a loopback address only (runner.ui.actions); say which this server is.
    changes = "tags, names and deletions can be changed" if loopback_host is not None else "read-only"
    note(f"showing the runs of {uri} at http://{shown}:{port}/ ({changes}; Ctrl-C to stop)")
    config = uvicorn.Config(web_app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:
        pass  # uvicorn has shut down already; Ctrl-C is how a server is meant to stop
    finally:
        listener.close()

