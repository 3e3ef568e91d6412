"""Downloading a run's artifacts and kept files.

Files are opened through the store (runner.runfiles): every part of an artifact path is opened
without following a link, from a folder the run cannot replace, and only regular files are sent.
Everything is sent as an attachment of type application/octet-stream, so that an HTML or SVG
file a run wrote can never run as a page of this app. The one exception is `image`, for the
preview page: a PNG, JPEG, GIF or WebP file (by its first bytes, not its name) is sent inline
with its own type.
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

from runner.tracking.base import LOG_NAME, RunRecord
from runner.ui.pages import artifact_errors, store_of
from runner.ui.previews import IMAGE_BYTES, image_type

CHUNK = 64 * 1024


def artifact(request: Request) -> Response:
    handle, relative = opened_artifact(request)
    return file_response(handle, PurePosixPath(relative).name or "artifact")


def image(request: Request) -> Response:
    """An artifact that is an image this app may show, inline; anything else is refused (415)."""
    handle, relative = opened_artifact(request)
    try:
        media = image_type(handle.read(16))
        length = handle.seek(0, os.SEEK_END)
    except BaseException:
        handle.close()
        raise
    if media is None or length > IMAGE_BYTES:
        handle.close()
        why = "is not a PNG, JPEG, GIF or WebP image" if media is None else "is too large to show"
        raise HTTPException(415, f"Artifact {relative!r} {why}; download it instead")
    return file_response(handle, PurePosixPath(relative).name, media_type=media, inline=True)


def opened_artifact(request: Request) -> tuple[BinaryIO, str]:
    """The artifact a request names, opened through the store, and its path; 404 or 400 otherwise."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    relative = request.path_params["path"]
    with artifact_errors(record.run_id, relative):
        return store.open_artifact(record.run_id, relative), relative
    raise AssertionError("unreachable")  # for type checkers: artifact_errors re-raises


def attachment(request: Request) -> Response:
    """A file kept with the run (the output log, the dirty diff, the environment lock, ...)."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    name = request.path_params["name"]
    if name != LOG_NAME and name not in record.attachments:
        raise HTTPException(404, f"Run {record.run_id} has no file {name!r}; it has: {_listing(record)}")
    return file_response(store.open_attachment(record.run_id, name), name)


def file_response(handle: BinaryIO, name: str, *, media_type: str = "application/octet-stream",
                  inline: bool = False) -> Response:
    """`handle` streamed as a download (or `inline`, for an image); the response closes it."""
    try:
        length = handle.seek(0, os.SEEK_END)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    disposition = attachment_disposition(name)
    if inline:
        disposition = disposition.replace("attachment", "inline", 1)
    headers = {"Content-Disposition": disposition, "Content-Length": str(length)}
    return StreamingResponse(_chunks(handle, length), media_type=media_type, headers=headers)


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
