"""The only changes proj ui makes: tag, untag, rename, delete and restore a run, each through
runner.runmanage, the same code as `proj runs tag/rename/delete/restore`.

An action is a POST of a small form from one of this server's own pages: runner.ui.guard has
checked its Host and Origin, and here its form must carry the server's CSRF token. Actions are
offered only on a loopback address (with --allow-remote the app stays read-only). Each opens the
store for writing just for itself and closes it, so the connections that serve pages stay
read-only: reading still never writes.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from runner import runmanage
from runner.tracking.base import TrackingStore
from runner.ui.guard import TOKEN_FIELD, Token

MAX_FORM_BYTES = 64 * 1024  # a tag value and a description fit many times over
Form = dict[str, str]


def _tag(store: TrackingStore, run_id: str, form: Form) -> None:
    runmanage.tag_run(store, run_id, {_field(form, "key").strip(): form.get("value", "")})


def _untag(store: TrackingStore, run_id: str, form: Form) -> None:
    runmanage.tag_run(store, run_id, {}, [_field(form, "key")])


def _rename(store: TrackingStore, run_id: str, form: Form) -> None:
    runmanage.rename_run(store, run_id, form.get("name"), form.get("description"))


def _delete(store: TrackingStore, run_id: str, form: Form) -> None:
    runmanage.delete_runs(store, [run_id])


def _restore(store: TrackingStore, run_id: str, form: Form) -> None:
    runmanage.restore_runs(store, [run_id])


ACTIONS: dict[str, Callable[[TrackingStore, str, Form], None]] = {
    "tag": _tag, "untag": _untag, "rename": _rename, "delete": _delete, "restore": _restore}


async def act(request: Request) -> RedirectResponse:
    """POST /runs/RUN_ID/actions/NAME: apply the action, then back to the page it came from."""
    if not request.app.state.actions:
        raise HTTPException(403, "This proj ui is read-only: it changes runs only when it serves on "
                                 "this machine's loopback address (without --allow-remote).")
    name, run_id = request.path_params["action"], request.path_params["run_id"]
    if name not in ACTIONS:
        raise HTTPException(404, f"No action {name!r}; the actions are: {', '.join(ACTIONS)}")
    form = await _read_form(request)
    token: Token = request.app.state.token
    if not token.matches(form.get(TOKEN_FIELD)):
        raise HTTPException(403, "Refused: the form has no valid CSRF token. Reload the page and try again.")
    await run_in_threadpool(_apply, request.app.state.stores.uri, name, run_id, form)
    return RedirectResponse(_back(form, run_id), status_code=303)


def _apply(uri: str, name: str, run_id: str, form: Form) -> None:
    """The action on a store opened for it alone (runmanage raises UsageError for what it refuses)."""
    from runner.tracking import open_store

    store = open_store(uri)
    try:
        ACTIONS[name](store, run_id, form)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


async def _read_form(request: Request) -> Form:
    """An urlencoded form of at most MAX_FORM_BYTES, one value per field."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "An action is sent as a form (application/x-www-form-urlencoded).")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"An action's form is at most {MAX_FORM_BYTES // 1024} KiB.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, f"The action's form cannot be read: {err}") from None
    return {key: values[-1] for key, values in fields.items()}


def _field(form: Form, name: str) -> str:
    value = form.get(name, "")
    if not value.strip():
        raise HTTPException(400, f"The form needs a {name}.")
    return value


def _back(form: Form, run_id: str) -> str:
    """Where to go next: the `next` path the form names when it is a path of this app, else the run."""
    wanted = form.get("next", "")
    if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted and "\n" not in wanted:
        return wanted
    return f"/runs/{run_id}"
