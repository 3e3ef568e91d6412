"""`proj runs refresh`, `wait` and `cancel`: bringing runs up to date after `proj run` returned.

`refresh` is the one command that records what happened to runs nobody watched: jobs a
scheduler ended (`--detach`), runs whose proj died (LOST); reads (`runs list/show`, `proj ui`)
never do (runner.refresh). `wait` and `cancel` refresh first, since they need fresh state.
`wait` exits as `proj run` would have: 0 when the run finished, the command's exit code when it
failed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import runs_app, store_for
from runner.cli.output import emit, note, warn

if TYPE_CHECKING:
    from runner.tracking.base import RunRecord, TrackingStore

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")



def _fresh_run(store: TrackingStore, run_id: str) -> RunRecord:
    """The run, refreshed: a scheduler that cannot be asked is an error here."""
    from runner.refresh import refresh_runs

    refreshed = refresh_runs(store, [store.get_run(run_id)])
    if refreshed.problems:
        raise refreshed.problems[0]
    return refreshed.records[0]


def report_detached(record: RunRecord, tracking_uri: Optional[str]) -> None:
    """After `proj run --detach`: the run id on stdout (for scripts), how to follow it on stderr."""
    hint = f" --tracking-uri {tracking_uri}" if tracking_uri else ""
    job = f" as {record.backend} job {record.job.id}" if record.job else ""
    note(f"run {record.run_id} submitted{job}; wait for it with: proj runs wait {record.run_id[:12]}{hint}")
    typer.echo(record.run_id)


@runs_app.command("wait")
def wait_for_run(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0,
                                            help="Give up after this many seconds (exit 124)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Show the run's output as it is written."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Wait until a run has ended (asking its scheduler), and exit with the run's exit code.

    Example: proj runs wait $(proj run . -b slurm --detach) --follow
    """
    from runner.backends.follow import LogTail
    from runner.lifecycle import exit_code_of, timed_out_exit_code
    from runner.refresh import wait_for_runs

    store = store_for(tracking_uri)
    record = _fresh_run(store, run_id)
    tail = LogTail(store.log_path(record.run_id), sys.stdout.buffer) if follow else None

    def changed(fresh: RunRecord) -> None:
        if fresh.job is not None and not fresh.status.is_terminal:
            note(f"run {fresh.run_id[:12]}: {fresh.backend} job {fresh.job.id} is {fresh.job.state}")

    try:
        record = wait_for_runs(store, [record], timeout=timeout, on_change=changed,
                               on_tick=tail.pump if tail else None)[0]
    except KeyboardInterrupt:
        note(f"stopped waiting; run {record.run_id} goes on (cancel it with: proj runs cancel {record.run_id[:12]})")
        raise typer.Exit(130) from None
    if tail is not None:
        tail.pump()
    if not record.status.is_terminal:
        note(f"run {record.run_id} is still {record.status.value} after {timeout:g} s")
        raise typer.Exit(timed_out_exit_code())
    note(_ended(record))
    raise typer.Exit(exit_code_of(record))


@runs_app.command("cancel")
def cancel_run(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Cancel a run's scheduler job; the run is recorded KILLED once the scheduler confirms."""
    from runner.refresh import cancel_run as cancel

    store = store_for(tracking_uri)
    record = _fresh_run(store, run_id)
    if record.status.is_terminal:
        note(f"run {record.run_id} has already ended: {_ended(record)}")
        return
    record = cancel(store, record)
    if not record.status.is_terminal:
        job = record.job.id if record.job else "?"
        note(f"the scheduler has not yet confirmed that job {job} stopped; "
             f"`proj runs show {record.run_id[:12]}` will tell")
        raise typer.Exit(1)
    note(_ended(record))


@runs_app.command("refresh")
def refresh(
    run_ids: List[str] = typer.Argument(None, metavar="[RUN_ID]...", autocompletion=completion.run_ids,
                                        help="Runs to refresh (ids or prefixes) [default: every RUNNING run]."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Record what happened to RUNNING runs: jobs their scheduler ended, runs whose proj is gone (LOST)."""
    from runner.refresh import refresh_runs, running_runs

    store = store_for(tracking_uri)
    records = [store.get_run(ref) for ref in run_ids] if run_ids else running_runs(store)
    refreshed = refresh_runs(store, records)
    for record in refreshed.changed:
        emit(_ended(record) if record.status.is_terminal else _waiting(record))
    pending = sum(not r.status.is_terminal for r in refreshed.records)
    note(f"refreshed {len(records)} run{'s' if len(records) != 1 else ''}: {len(refreshed.changed)} changed, "
         f"{pending} still RUNNING")
    for problem in refreshed.problems[1:]:
        warn(str(problem))
    if refreshed.problems:
        raise refreshed.problems[0]


def _waiting(record: RunRecord) -> str:
    job = f": {record.backend} job {record.job.id} is {record.job.state}" if record.job else ""
    return f"run {record.run_id} {record.status.value}{job}"


def _ended(record: RunRecord) -> str:
    from runner.runview import exit_code_text  # here, not at the top: `proj --help` loads this module

    job = f"; {record.backend} job {record.job.id}: {record.job.state}" if record.job else ""
    reason = f" ({record.job.reason})" if record.job and record.job.reason else ""
    return f"run {record.run_id} {record.status.value}{exit_code_text(record.exit_code)}{job}{reason}"

