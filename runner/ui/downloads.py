"""Downloading a run's artifacts and kept files.

Files are opened through the store (runner.runfiles): every part of an artifact path is opened
without following a link, from a folder the run cannot replace, and only regular files are sent.
Everything is sent as an attachment of type application/octet-stream, so that an HTML or SVG
file a run wrote can never run as a page of this app.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runner.runfiles import NotAFileError, RunFileError
from runner.tracking.base import LOG_NAME, RunRecord
from runner.ui.pages import store_of

CHUNK = 64 * 1024


def artifact(request: Request) -> Response:
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    relative = request.path_params["path"]
    missing = f"Run {record.run_id} has no artifact {relative!r}"
    try:
        handle = store.open_artifact(record.run_id, relative)
    except FileNotFoundError:
        raise HTTPException(404, missing) from None
    except NotAFileError as err:
        raise HTTPException(404, f"{missing}: {err}") from None
    except RunFileError as err:
        raise HTTPException(400, f"Artifact path {err}") from None
    return file_response(handle, PurePosixPath(relative).name or "artifact")


def attachment(request: Request) -> Response:
    """A file kept with the run (the output log, the dirty diff, the environment lock, ...)."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    name = request.path_params["name"]
    if name != LOG_NAME and name not in record.attachments:
        raise HTTPException(404, f"Run {record.run_id} has no file {name!r}; it has: {_listing(record)}")
    return file_response(store.open_attachment(record.run_id, name), name)


def file_response(handle: BinaryIO, name: str) -> Response:
    """`handle` streamed as a download; the response closes it."""
    try:
        length = handle.seek(0, os.SEEK_END)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    headers = {"Content-Disposition": attachment_disposition(name), "Content-Length": str(length)}
    return StreamingResponse(_chunks(handle, length), media_type="application/octet-stream", headers=headers)


def _chunks(handle: BinaryIO, length: int) -> Iterator[bytes]:
    """Exactly `length` bytes: a file still being written must not outgrow its Content-Length."""
    with handle:
        while length > 0:
            data = handle.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


def attachment_disposition(name: str) -> str:
    """`attachment` with a plain ASCII file name, and the exact name UTF-8-encoded (RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _listing(record: RunRecord) -> str:
    return ", ".join([LOG_NAME, *record.attachments])
