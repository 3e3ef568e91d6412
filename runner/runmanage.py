"""What users change about recorded runs: delete and restore, tags, name and description.

One code path for the command line (`proj runs delete/restore/tag/rename`), the browser
(`proj ui`) and the Python API: each function takes a store and run ids (or unique prefixes),
checks what the change may touch, and lets the store persist it. Statuses are none of its
business (runner.lifecycle owns them); deleting is a flag beside the status.

Rules:
- a RUNNING run is never deleted or restored: it may still be written, and a run that looks
  RUNNING but whose proj is gone must first be recorded as such (`proj runs refresh`);
- deleting or restoring a run does the same to the runs the project started inside it (their
  files live in its folder, and `proj gc` removes them together);
- the user's tags are theirs: names starting with `mlflow.` or `proj.` are MLflow's and proj's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from runner.errors import UsageError
from runner.tracking.base import RunRecord, RunStatus, TrackingStore

MAX_TAG_KEY = 250  # MLflow's limits (mlflow/utils/validation.py)
MAX_TAG_VALUE = 8000
MAX_NAME = 250
MAX_DESCRIPTION = 8000
RESERVED_PREFIXES = ("mlflow.", "proj.")
_TAG_KEY = re.compile(r"^[\w.\- /:]+$")  # what MLflow accepts as a tag key (off Windows)


@dataclass(frozen=True)
class Change:
    """One run after a change, and whether anything changed (deleting a deleted run does not)."""

    record: RunRecord
    changed: bool


def delete_runs(store: TrackingStore, refs: Sequence[str]) -> list[Change]:
    """Mark runs (and the runs started inside them) deleted; `proj runs restore` undoes it."""
    return _set_deleted(store, refs, True)


def restore_runs(store: TrackingStore, refs: Sequence[str]) -> list[Change]:
    """Undo `delete_runs` (before `proj gc` removed the runs for good)."""
    return _set_deleted(store, refs, False)


def tag_run(store: TrackingStore, ref: str, tags: Mapping[str, str], removed: Sequence[str] = ()) -> Change:
    """Set and remove the user's tags of one run."""
    check_tags(tags)
    for key in removed:
        check_tag_key(key)
    if both := sorted(set(tags) & set(removed)):
        raise UsageError(f"Tag {both[0]!r} is both set and removed", hint="give each tag once")
    record = store.get_run(ref)
    missing = [key for key in removed if key not in record.tags]
    if missing:
        known = ", ".join(sorted(record.tags)) or "none"
        raise UsageError(f"Run {record.run_id} has no tag {missing[0]!r} to remove", hint=f"its tags: {known}")
    if all(record.tags.get(k) == v for k, v in tags.items()) and not removed:
        return Change(record, False)
    return Change(store.set_tags(record.run_id, dict(tags), list(removed)), True)


def rename_run(store: TrackingStore, ref: str, name: str | None = None, description: str | None = None) -> Change:
    """Give one run a new name, a new description, or both."""
    if name is None and description is None:
        raise UsageError("Give a new name, a --description, or both")
    if name is not None:
        check_run_name(name)
    if description is not None:
        check_description(description)
    record = store.get_run(ref)
    if name in (None, record.run_name) and description in (None, record.description):
        return Change(record, False)
    return Change(store.describe_run(record.run_id, name, description), True)


def parse_tags(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` texts (`--tag team=vision`) as checked tags, in order."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"Invalid tag {pair!r}: expected KEY=VALUE", hint="for example --tag team=vision")
        if key in tags:
            raise UsageError(f"Tag {key!r} is given twice")
        tags[key] = value
    check_tags(tags)
    return tags


def check_labels(tags: Mapping[str, str], description: str | None) -> None:
    """What a new run is given to carry (`proj run --tag ... --description ...`)."""
    check_tags(tags)
    if description is not None:
        check_description(description)


def check_tags(tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        check_tag_key(key)
        if len(value) > MAX_TAG_VALUE:
            raise UsageError(f"The value of tag {key!r} is {len(value)} characters long; at most {MAX_TAG_VALUE} "
                             "are kept", hint="keep long texts in a file among the run's artifacts")


def check_tag_key(key: str) -> None:
    if not key or len(key) > MAX_TAG_KEY or not _TAG_KEY.match(key):
        raise UsageError(f"Invalid tag name {key!r}",
                         hint=f"use letters, digits, _ - . / : and spaces, at most {MAX_TAG_KEY} characters")
    if key.startswith(RESERVED_PREFIXES):
        raise UsageError(f"Tag names starting with {' or '.join(RESERVED_PREFIXES)} are reserved ({key!r})",
                         hint="MLflow and proj keep their own data in them; choose another name")


def check_run_name(name: str) -> None:
    if not name.strip():
        raise UsageError("A run name must not be empty")
    if len(name) > MAX_NAME:
        raise UsageError(f"A run name has at most {MAX_NAME} characters, not {len(name)}")


def check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise UsageError(f"A description has at most {MAX_DESCRIPTION} characters, not {len(description)}")


def _set_deleted(store: TrackingStore, refs: Sequence[str], deleted: bool) -> list[Change]:
    if not refs:
        raise UsageError(f"Name the runs to {'delete' if deleted else 'restore'} (run ids or unique prefixes)")
    records = _with_children(store, [store.get_run(ref) for ref in refs])
    for record in records:
        _refuse_running(record, "delete" if deleted else "restore")
    return [Change(store.set_deleted(r.run_id, deleted), True) if r.deleted is not deleted else Change(r, False)
            for r in records]


def _with_children(store: TrackingStore, records: list[RunRecord]) -> list[RunRecord]:
    """The runs and, after each, the runs started inside it (nested ones too), each once."""
    seen: dict[str, RunRecord] = {}
    pending = list(reversed(records))
    while pending:
        record = pending.pop()
        if record.run_id not in seen:
            seen[record.run_id] = record
            pending += [store.get_run(child) for child in reversed(record.child_runs)]
    return list(seen.values())


def _refuse_running(record: RunRecord, action: str) -> None:
    if record.status is RunStatus.RUNNING:
        raise UsageError(
            f"Run {record.run_id} is RUNNING: it cannot be {action}d while it may still be written",
            hint="wait for it to end or stop it (Ctrl-C in its terminal, `proj runs cancel` for a scheduled job); "
                 "if its proj is gone, `proj runs refresh` records it as LOST")
