"""Downloading a run's artifacts and kept files.

An artifact path goes through `store.artifact_path`, which refuses absolute paths, `..` and
symlinks on the way; the file itself is opened without following a symlink, and must be a
regular file. Everything is sent as an attachment of type application/octet-stream, so that an
HTML or SVG file a run wrote can never run as a page of this app.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runner.tracking.base import LOG_NAME, RunRecord
from runner.ui.pages import store_of

CHUNK = 64 * 1024


def artifact(request: Request) -> Response:
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    relative = request.path_params["path"]
    try:
        path = store.artifact_path(record.run_id, relative)
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    return file_response(path, PurePosixPath(relative).name or "artifact",
                         missing=f"Run {record.run_id} has no artifact {relative!r}")


def attachment(request: Request) -> Response:
    """A file kept with the run (the output log, the dirty diff, the environment lock, ...)."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    name = request.path_params["name"]
    if name == LOG_NAME:
        return file_response(Path(store.log_path(record.run_id)), name, missing=f"Run {record.run_id} has no log")
    if name not in record.attachments:
        raise HTTPException(404, f"Run {record.run_id} has no file {name!r}; it has: {_listing(record)}")
    data = store.read_attachment(record.run_id, name)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": attachment_disposition(name)})


def file_response(path: Path, name: str, *, missing: str) -> Response:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise HTTPException(400, f"{name!r} is a symlink; only regular files are served") from None
        raise HTTPException(404, missing) from None
    handle = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise HTTPException(404, missing)
    headers = {"Content-Disposition": attachment_disposition(name), "Content-Length": str(info.st_size)}
    return StreamingResponse(_chunks(handle, info.st_size), media_type="application/octet-stream", headers=headers)


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
