"""Previews of a run's artifacts: text, JSON and YAML, CSV as a table, images, MLflow models.

Every file is opened through the store (runner.runfiles: no link is followed, only regular files
are read) and read no further than PREVIEW_BYTES, so a huge artifact costs a bounded read and
the rest is a download away. No HTML or SVG a run wrote is ever rendered: SVG is shown as its
source, and images are sent only when their first bytes say they are PNG, JPEG, GIF or WebP.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

from runner.capture.models import MAX_MLMODEL_BYTES, MLMODEL, describe_model
from runner.errors import SpecError
from runner.limits import ARTIFACTS_LISTED
from runner.outputs import Artifact
from runner.tracking.base import LoggedModel, TrackingStore

PREVIEW_BYTES = 512 * 1024  # read at most this much of a file to preview it
MAX_CSV_ROWS = 500
MAX_CSV_COLUMNS = 100
IMAGE_BYTES = 32 * 1024**2  # larger images are a download only
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
               b"GIF89a": "image/gif"}
TEXT_SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".tsv": "csv"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass
class Preview:
    path: str
    size: int
    kind: str  # empty, text, json, yaml, csv, image, model, binary
    text: str = ""  # what is shown as text (pretty-printed JSON, the YAML as written, ...)
    truncated: bool = False  # only the first PREVIEW_BYTES were read
    note: str = ""  # why a file is shown as plain text after all (invalid JSON, ...)
    rows: list[list[str]] = field(default_factory=list)  # a CSV's rows, the header first
    more_rows: bool = False
    model: LoggedModel | None = None
    limit: int = PREVIEW_BYTES  # how much of a file a preview reads


def preview(store: TrackingStore, run_id: str, path: str) -> Preview:
    """The preview of artifact `path` (FileNotFoundError / RunFileError as store.open_artifact raises)."""
    with store.open_artifact(run_id, path) as handle:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        head = handle.read(PREVIEW_BYTES + 1)
    shown = Preview(path, size, "text", truncated=len(head) > PREVIEW_BYTES)
    data = head[:PREVIEW_BYTES]
    name = PurePosixPath(path).name
    suffix = PurePosixPath(name).suffix.lower()
    if size == 0:
        shown.kind = "empty"
    elif image_type(head) is not None:
        shown.kind = "image"
    elif b"\0" in data[:8192]:
        shown.kind = "binary"
    elif name == MLMODEL:
        _model(shown, data, lambda: list(islice(store.list_artifacts(run_id), ARTIFACTS_LISTED.get())))
    else:
        shown.text = data.decode("utf-8", "replace")
        kind = TEXT_SUFFIXES.get(suffix)
        if kind == "json":
            _json(shown)
        elif kind == "yaml":
            _yaml(shown, name)
        elif kind == "csv":
            _csv(shown, "\t" if suffix == ".tsv" else ",")
    return shown


def image_type(head: bytes) -> str | None:
    """The media type of an image this app may show, by the file's first bytes (never its name)."""
    for magic, media in IMAGE_TYPES.items():
        if head.startswith(magic):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _json(shown: Preview) -> None:
    if shown.truncated:
        shown.note = "Only the beginning is shown, as written."
        return
    try:
        shown.text = json.dumps(json.loads(shown.text), indent=2, ensure_ascii=False)
        shown.kind = "json"
    except (ValueError, RecursionError) as err:
        shown.note = f"Not valid JSON ({err}); shown as written."


def _yaml(shown: Preview, name: str) -> None:
    if shown.truncated:
        shown.note = "Only the beginning is shown, as written."
        return
    from runner.yamldoc import parse_yaml  # PyYAML, only when a YAML file is previewed

    try:
        parse_yaml(shown.text, Path(name))
        shown.kind = "yaml"
    except SpecError as err:
        shown.note = f"Not valid YAML ({err.problems[0].message}); shown as written."


def _csv(shown: Preview, delimiter: str) -> None:
    lines = shown.text.splitlines()
    if shown.truncated and lines:
        lines = lines[:-1]  # the last line read may be cut short
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if len(shown.rows) > MAX_CSV_ROWS:
                break
            shown.rows.append(row[:MAX_CSV_COLUMNS])
    except csv.Error as err:
        shown.rows, shown.note = [], f"Not a table proj can read ({err}); shown as written."
        return
    shown.more_rows = len(shown.rows) > MAX_CSV_ROWS or shown.truncated
    shown.rows = shown.rows[:MAX_CSV_ROWS + 1]  # the header and MAX_CSV_ROWS rows
    shown.kind = "csv"


def _model(shown: Preview, data: bytes, listing: Callable[[], list[Artifact]]) -> None:
    """An MLmodel file: the model it describes, with the files of its folder."""
    shown.text = data.decode("utf-8", "replace")
    if shown.truncated or len(data) > MAX_MLMODEL_BYTES:
        shown.note = "Too large to read as a model; shown as written."
        return
    from runner.yamldoc import parse_yaml

    try:
        mlmodel: Any = parse_yaml(shown.text, Path(MLMODEL)).data
    except SpecError as err:
        shown.note = f"Not valid YAML ({err.problems[0].message}); shown as written."
        return
    if not isinstance(mlmodel, dict):
        shown.note = "Not a model description (not a YAML mapping); shown as written."
        return
    folder = str(PurePosixPath(shown.path).parent)
    folder = "" if folder == "." else folder
    prefix = folder + "/" if folder else ""
    files = [(a.path[len(prefix):], a.size) for a in listing() if a.path.startswith(prefix)]
    shown.model = describe_model(mlmodel, name=folder or "model", path=folder, files=files)
    shown.kind = "model"
