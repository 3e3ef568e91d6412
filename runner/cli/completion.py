"""Shell completion of what proj knows: run ids, experiments, entry points and parameter names.

The shell asks through typer's protocol (`_PROJ_COMPLETE=complete_bash COMP_WORDS=... proj`;
`proj --install-completion` sets it up). Each function answers from the store the command would
use (its --tracking-uri, else the one found from here) or from the project its URI names when
that is a local folder. A completion never fails and never prints: a store or project that
cannot be read completes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from runner.cli.app import store_for
from runner.words import plural

if TYPE_CHECKING:
    from runner.project import Project
    from runner.tracking.base import RunRecord, TrackingStore

Completions = list[tuple[str, str]]  # (value, what it is), shown beside the value by zsh and fish
RECENT_RUNS = 500  # runs read for experiment names, from a store that cannot list them
_RUN_ID = re.compile(r"^[0-9a-f]*$")


def _quietly(complete: Callable[[typer.Context, str], Completions]) -> Callable[[typer.Context, str], Completions]:
    def guarded(ctx: typer.Context, incomplete: str) -> Completions:
        try:
            return complete(ctx, incomplete)
        except Exception:  # a completion must not break the shell's line: nothing to offer
            return []

    guarded.__name__ = complete.__name__
    guarded.__doc__ = complete.__doc__
    return guarded


@_quietly
def run_ids(ctx: typer.Context, incomplete: str) -> Completions:
    """Runs whose id starts with what is typed, newest first: the short id (the full one once
    more than 12 characters are typed), with the run's status and name."""
    if not _RUN_ID.match(incomplete):
        return []
    from runner.runfilter import parse_filter
    from runner.tracking.base import RunQuery

    store = _store(ctx)
    prefix = parse_filter(f"run_id LIKE '{incomplete}%'") if incomplete and store.supports_search else None
    records = store.list_runs(RunQuery(limit=50, filter=prefix))
    width = 12 if len(incomplete) <= 12 else 32
    return [(r.run_id[:width], _described(r)) for r in records if r.run_id.startswith(incomplete)]


@_quietly
def experiments(ctx: typer.Context, incomplete: str) -> Completions:
    """The store's experiments with how many runs each holds (from its recent runs when the store
    cannot count them itself)."""
    from runner.tracking.base import RunQuery

    store = _store(ctx)
    summaries = store.list_experiments()
    if summaries is not None:
        counts = {s.name: s.runs for s in summaries}
    else:
        counts = {}
        for record in store.list_runs(RunQuery(limit=RECENT_RUNS)):
            counts[record.experiment] = counts.get(record.experiment, 0) + 1
    return [(name, plural(count, "run")) for name, count in sorted(counts.items()) if name.startswith(incomplete)]


@_quietly
def entry_points(ctx: typer.Context, incomplete: str) -> Completions:
    """The entry points of the project the command's URI names, when it is a local folder."""
    project = _local_project(ctx)
    if project is None:
        return []
    return [(e.name, e.command.strip().splitlines()[0][:60] if e.command.strip() else "")
            for e in project.entry_points.values() if e.name.startswith(incomplete)]


@_quietly
def parameters(ctx: typer.Context, incomplete: str) -> Completions:
    """`NAME=` for each parameter the entry point declares and the command line does not give yet."""
    if "=" in incomplete:
        return []
    project = _local_project(ctx)
    entry = project.entry_points.get(str(ctx.params.get("entry_point") or "main")) if project else None
    if entry is None:
        return []
    given = {str(item).partition("=")[0] for key in ("param", "sweep") for item in ctx.params.get(key) or ()}
    return [(f"{p.name}=", _parameter_help(p.type, p.default)) for p in entry.parameters
            if p.name.startswith(incomplete) and p.name not in given]


# --- where the answers come from -------------------------------------------------------------


def _store(ctx: typer.Context) -> TrackingStore:
    import os

    # This process answers the shell once and exits: a server that does not answer at once is
    # not waited for (no retries, a short timeout), unless the user's settings say otherwise.
    os.environ.setdefault("PROJ_MLFLOW_RETRIES", "0")
    os.environ.setdefault("PROJ_MLFLOW_TIMEOUT", "2")
    return store_for(ctx.params.get("tracking_uri"))


def _local_project(ctx: typer.Context) -> Project | None:
    """The project of the command's URI (`.` when none is typed yet) if it is a local folder:
    git URLs and archives are not fetched to complete a word."""
    from pathlib import Path

    from runner.spec import load_project

    # While an option's value is completed, click's parser stops at that option and leaves the
    # URI typed before it among the unparsed arguments.
    uri = ctx.params.get("uri") or next(iter(ctx.args), ".")
    location, _, subdirectory = str(uri).partition("#")
    folder = Path(location) / subdirectory
    return load_project(folder) if folder.is_dir() else None


def _described(record: RunRecord) -> str:
    return f"{record.status.value} {record.run_name}"


def _parameter_help(type_name: str, default: object) -> str:
    return type_name + ("" if default is None else f", default {default}")
