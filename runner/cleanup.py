"""`proj gc`: what can go, and removing it.

Three kinds of things:
- **deleted runs** of the store (`proj runs delete`), with their folders: gone for good. A run
  deleted less than `older_than` days ago stays; a RUNNING one always does. An MLflow server
  removes its deleted runs itself (`mlflow gc`), so there proj only says how many there are;
- **kept checkouts** (git worktrees and unpacked archives under $PROJ_HOME) that scheduled runs
  held and that every such run has ended with, or that a proj which died left behind. One held
  by a run this store does not know is left alone (another store's run may need it);
- **unused environments** in the cache: not the environment of any run the store keeps, and not
  used for `env_idle` days; and what builds that were killed left half-made.

`plan` only looks; `remove` removes one item. Sizes are bytes on disk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.errors import ProjError, UsageError
from runner.sources import KeptSource, discard_kept, kept_sources
from runner.tracking.base import RunQuery, RunRecord, RunStatus, TrackingStore

Kind = Literal["run", "checkout", "environment"]
_EVERY_RUN = 10**9


@dataclass(frozen=True)
class Removable:
    kind: Kind
    name: str  # the run id, the folder's name, the environment's key
    size: int  # bytes
    reason: str
    path: Path | None = None
    kept: KeptSource | None = None  # for a checkout


@dataclass(frozen=True)
class Plan:
    items: list[Removable]
    notes: list[str]  # what stays, and why, when the user may wonder

    @property
    def size(self) -> int:
        return sum(item.size for item in self.items)


def plan(store: TrackingStore, *, older_than_days: float = 0, env_idle_days: float = 7) -> Plan:
    if older_than_days < 0 or env_idle_days < 0:
        raise UsageError("--older-than and --env-idle are numbers of days, 0 or more")
    notes: list[str] = []
    runs = _all_runs(store)
    items = _deleted_runs(store, runs, older_than_days, notes)
    items += _kept_sources(store, notes)
    going = {item.name for item in items if item.kind == "run"}
    items += _unused_environments({r.environment.key for r in runs if r.run_id not in going and r.environment.key},
                                  env_idle_days)
    return Plan(items, notes)


def remove(store: TrackingStore, item: Removable) -> None:
    if item.kind == "run":
        store.purge_run(item.name)
    elif item.kind == "checkout":
        assert item.kept is not None
        discard_kept(item.kept)
    else:
        from runner.environments import cache

        assert item.path is not None
        if item.path.name == item.name:
            cache.remove(item.name)
        else:
            cache.remove_incomplete(item.path, item.name)


def _all_runs(store: TrackingStore) -> list[RunRecord]:
    if not store.supports_search:  # a plugin store: its runs, deleted or not, as it lists them
        return store.list_runs(RunQuery(limit=_EVERY_RUN))
    return store.list_runs(RunQuery(limit=_EVERY_RUN, deleted=None))


def _deleted_runs(store: TrackingStore, runs: list[RunRecord], older_than_days: float,
                  notes: list[str]) -> list[Removable]:
    deleted = [r for r in runs if r.deleted]
    if deleted and not store.purges_runs:
        notes.append(f"{len(deleted)} deleted run{'s' if len(deleted) != 1 else ''} on {store.uri}: the server "
                     "removes them itself (`mlflow gc` where its database is)")
        return []
    cutoff = time.time() - older_than_days * 86400
    items = []
    for record in deleted:
        if record.status is RunStatus.RUNNING:
            notes.append(f"run {record.run_id} is deleted but RUNNING: left alone")
        elif record.deleted_time is not None and record.deleted_time > cutoff:
            continue
        else:
            folder = _run_folder(store, record)
            items.append(Removable("run", record.run_id, _size(folder) if folder else 0,
                                   f"deleted {record.run_name!r}", folder))
    return items


def _run_folder(store: TrackingStore, record: RunRecord) -> Path | None:
    """The run's own folder in a local store (runs started inside another run have none)."""
    root = getattr(store, "root", None)
    folder = root / "runs" / record.run_id if isinstance(root, Path) else None
    return folder if folder is not None and folder.is_dir() else None


def _kept_sources(store: TrackingStore, notes: list[str]) -> list[Removable]:
    items = []
    for kept in kept_sources():
        if not kept.holders:
            if kept.abandoned:
                items.append(Removable("checkout", kept.path.name, _size(kept.path),
                                       "left by a proj that died", kept.path, kept))
            continue
        states = [_holder_state(store, holder) for holder in kept.holders]
        if all(state == "ended" for state in states):
            items.append(Removable("checkout", kept.path.name, _size(kept.path),
                                   f"kept for {_runs(kept.holders)}, which ended", kept.path, kept))
        elif "unknown" in states:
            notes.append(f"{kept.path} is kept for {_runs(kept.holders)}, not all in this store: left alone")
    return items


def _holder_state(store: TrackingStore, run_id: str) -> str:
    try:
        record = store.get_run(run_id)
    except ProjError:  # not in this store (RunNotFoundError), or not readable now
        return "unknown"
    return "running" if record.status is RunStatus.RUNNING else "ended"


def _unused_environments(used: set[str], idle_days: float) -> list[Removable]:
    from runner.environments import cache

    items = [Removable("environment", key, _size(path), "incomplete (a build that was killed or failed)", path)
             for path, key in cache.incomplete()]
    cutoff = time.time() - idle_days * 86400
    for environment in cache.list_environments():
        last = cache.last_used(environment)
        if environment.key not in used and last < cutoff:
            since = time.strftime("%Y-%m-%d", time.localtime(last))
            items.append(Removable("environment", environment.key, _size(environment.path),
                                   f"no run in this store uses it; last used {since}", environment.path))
    return items


def _runs(holders: tuple[str, ...]) -> str:
    shown = ", ".join(h[:12] for h in holders[:3]) + (", ..." if len(holders) > 3 else "")
    return f"run{'s' if len(holders) != 1 else ''} {shown}"


def _size(path: Path | None) -> int:
    from runner.environments.cache import size_of

    return size_of(path) if path is not None else 0
