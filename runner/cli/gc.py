"""`proj gc`: remove deleted runs, kept checkouts and unused environments (runner.cleanup)."""

from __future__ import annotations

from typing import Optional

import typer

from runner.cli.app import app, store_for
from runner.cli.output import emit, note, table, warn


@app.command("gc")
def collect(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed, and its size."),
    older_than: float = typer.Option(0, "--older-than", min=0, metavar="DAYS",
                                     help="Only runs deleted at least this many days ago [default: 0, all]."),
    env_idle: float = typer.Option(7, "--env-idle", min=0, metavar="DAYS",
                                   help="Only environments not used for this many days."),
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above]."),
) -> None:
    """Free space: remove deleted runs (for good), checkouts kept for runs that have ended, and
    environments no run of the store uses. Example: proj gc --dry-run"""
    from runner import cleanup
    from runner.runview import size  # here, not at the top: `proj --help` loads this module
    store = store_for(tracking_uri)
    found = cleanup.plan(store, older_than_days=older_than, env_idle_days=env_idle)
    for text in found.notes:
        note(text)
    if not found.items:
        emit("nothing to remove")
        return
    emit(table([[item.kind, item.name, size(item.size), item.reason] for item in found.items],
               ["WHAT", "NAME", "SIZE", "WHY"]))
    count = f"{len(found.items)} item{'s' if len(found.items) != 1 else ''}"
    if dry_run:
        emit(f"would remove {count}, {size(found.size)} (run without --dry-run to remove them)")
        return
    freed, failed = 0, 0
    for item in found.items:
        try:
            cleanup.remove(store, item)
            freed += item.size
        except OSError as err:
            failed += 1
            warn(f"could not remove {item.kind} {item.name}: {err.strerror or err}")
    done = f"{len(found.items) - failed} of {count}" if failed else count
    emit(f"removed {done}, {size(freed)} freed")
    if failed:
        raise typer.Exit(1)
