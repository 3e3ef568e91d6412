"""Which artifacts `proj runs artifacts RUN [PATH]` means, and copying them out.

A PATH names one artifact, or a folder: then everything below `PATH/` (so `sub` is never a
prefix of `subway.txt`). Copies keep the folders below PATH, so two files with one name never
land on each other. Files are read through the store (runner.runfiles): nothing the run left in
its folder can make a copy read from outside it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Optional

from runner.cli.output import copy_to_stdout, emit, warn
from runner.errors import TrackingError, UsageError
from runner.outputs import Artifact
from runner.runfiles import RunFileError, relative_parts
from runner.runview import size as _size
from runner.tracking.base import TrackingStore

_CHUNK = 1024 * 1024


def list_artifacts(store: TrackingStore, run_id: str, path: Optional[str]) -> None:
    """Print each artifact PATH names with its size, as the folder is walked."""
    count = 0
    for artifact, _ in select_artifacts(store, run_id, path):
        emit(f"{artifact.path}  {_size(artifact.size)}")
        count += 1
    if not count:
        emit("no artifacts")


def select_artifacts(store: TrackingStore, run_id: str, path: Optional[str]) -> Iterator[tuple[Artifact, str]]:
    """Each artifact PATH names, with where a copy of it goes (relative to the -o folder); a
    PATH that names none is a UsageError (raised once the listing shows it)."""
    name = _normalised(path)
    found = False
    for item in _matching(store, run_id, name):
        found = True
        yield item
    if name and not found:
        raise UsageError(f"Run {run_id} has no artifact {path!r}",
                         hint=f"`proj runs artifacts {run_id[:12]}` lists them")


def _normalised(path: Optional[str]) -> str:
    try:
        return "/".join(relative_parts(path or ""))
    except RunFileError as err:
        raise UsageError(f"Artifact path {err}") from None


def _matching(store: TrackingStore, run_id: str, name: str) -> Iterator[tuple[Artifact, str]]:
    for artifact in store.list_artifacts(run_id):
        if not name:
            yield artifact, artifact.path
        elif artifact.path == name:
            yield artifact, PurePosixPath(name).name
        elif artifact.path.startswith(name + "/"):
            yield artifact, artifact.path[len(name) + 1:]


def copy_artifacts(store: TrackingStore, run_id: str, path: Optional[str], output: Path) -> None:
    """Copy each artifact PATH names below `output`; one that changed meanwhile is skipped and said."""
    copied = skipped = 0
    for artifact, relative in select_artifacts(store, run_id, path):
        target = output.joinpath(*relative.split("/"))
        try:
            with store.open_artifact(run_id, artifact.path) as source:
                _write(source, target)
            copied += 1
        except (FileNotFoundError, RunFileError) as err:
            skipped += 1
            warn(f"skipped {artifact.path}: it {err.reason if isinstance(err, RunFileError) else 'is gone'}")
    emit(f"copied {copied} file{'s' if copied != 1 else ''} to {output}")
    if skipped:
        raise TrackingError(f"{skipped} artifact{'s' if skipped > 1 else ''} of run {run_id} changed while "
                            "they were copied, and were left out")


def _write(source: BinaryIO, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK)
    except OSError as err:
        raise UsageError(f"Cannot write {target}: {err.strerror}", hint="choose another folder with -o") from None


def write_artifact(store: TrackingStore, run_id: str, path: Optional[str]) -> None:
    """`-o -`: the one file PATH names, to stdout."""
    name = _normalised(path)
    first = list(islice(select_artifacts(store, run_id, path), 1)) if name else []
    if not first or first[0][0].path != name:
        raise UsageError("`-o -` writes one file to stdout, so PATH must name one artifact (not a folder)",
                         hint=f"give its path, as `proj runs artifacts {run_id[:12]}` lists it")
    try:
        with store.open_artifact(run_id, name) as source:
            copy_to_stdout(source)
    except FileNotFoundError:
        raise UsageError(f"Run {run_id} has no artifact {path!r}") from None
    except RunFileError as err:
        raise UsageError(f"Artifact {err}") from None
