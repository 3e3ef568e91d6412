"""`proj runs delete`, `restore`, `tag` and `rename`: what users change about recorded runs.

The rules (what may change, and what else changes with it) are runner.runmanage's, shared
with `proj ui`; this module reads the options and says what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import runs_app, store_for
from runner.cli.output import emit, note

if TYPE_CHECKING:
    from runner.runmanage import Change

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")
_RUN_IDS = typer.Argument(..., metavar="RUN_ID...", help="Run ids, or unique prefixes of them.",
                         autocompletion=completion.run_ids)



@runs_app.command("delete")
def delete(run_ids: List[str] = _RUN_IDS, tracking_uri: Optional[str] = _TRACKING_URI) -> None:
    """Delete runs (and the runs the project started inside them); `proj runs restore` brings
    them back until `proj gc` removes them for good. RUNNING runs are refused."""
    from runner.runmanage import delete_runs

    changes = delete_runs(store_for(tracking_uri), run_ids)
    _report(changes, "deleted", "was already deleted")
    if any(c.changed for c in changes):
        note("`proj runs list --deleted` lists deleted runs; `proj gc` removes them and their files")


@runs_app.command("restore")
def restore(run_ids: List[str] = _RUN_IDS, tracking_uri: Optional[str] = _TRACKING_URI) -> None:
    """Bring deleted runs back (with the runs the project started inside them)."""
    from runner.runmanage import restore_runs

    _report(restore_runs(store_for(tracking_uri), run_ids), "restored", "was not deleted")


@runs_app.command("tag")
def tag(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    tags: List[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Tags to set (a new value replaces one)."),
    remove: List[str] = typer.Option([], "--remove", "-r", metavar="KEY", help="Remove this tag (repeatable)."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Set or remove a run's tags.

    Example: proj runs tag 3f2a team=vision stage=try --remove draft
    """
    from runner.errors import UsageError
    from runner.runmanage import parse_tags, tag_run
    from runner.runview import tags_text

    if not tags and not remove:
        raise UsageError("Give tags to set (KEY=VALUE) or to remove (--remove KEY)")
    change = tag_run(store_for(tracking_uri), run_id, parse_tags(tags or []), remove)
    record = change.record
    emit(f"run {record.run_id} tags: {tags_text(record.tags, width=None) or '(none)'}")
    if not change.changed:
        note("nothing changed")


@runs_app.command("rename")
def rename(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="The run's new name."),
    description: Optional[str] = typer.Option(None, "--description", "-d",
                                              help="The run's new description (\"\" removes it)."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Give a run a new name, a description, or both.

    Example: proj runs rename 3f2a baseline -d "before the fix"
    """
    from runner.runmanage import rename_run

    change = rename_run(store_for(tracking_uri), run_id, name, description)
    record = change.record
    emit(f"run {record.run_id} is named {record.run_name!r}"
         + (f", described as {record.description!r}" if record.description else ""))
    if not change.changed:
        note("nothing changed")


def _report(changes: list[Change], done: str, already: str) -> None:
    for change in changes:
        record = change.record
        child = f" (started inside run {record.parent_run_id[:12]})" if record.parent_run_id else ""
        if change.changed:
            emit(f"{done} run {record.run_id} {record.run_name!r}{child}")
        else:
            note(f"run {record.run_id}{child} {already}")
