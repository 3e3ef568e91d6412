"""A run's life, and the one place that changes its status.

    start (or resume) ─▶ RUNNING ─▶ end ─▶ FINISHED | FAILED | KILLED | LOST

Every way a run can end comes through `end`: an attached run when its backend returns or proj
is interrupted (`run_attached`), a scheduled run when its scheduler reports the job ended
(`settle_job`, from runner.scheduling while proj follows the job, or from runner.refresh later),
a run whose launcher died (`mark_lost`, from `proj runs refresh`). Stores only persist what is
decided here: `start_run`, `continue_run`, `set_job`, `save_metrics` and `end_run`, which keeps
the first ending a run gets.

Ending a run is also where end-of-run work happens: each settler in SETTLERS (bringing in what
the project logged with its own MLflow client, runner.capture), then proj's own metrics summary,
is called with the store and the still RUNNING record before the final status is written. A
settler that fails costs a warning, never the run's status. What proj exits with
for a run, a sweep or a scheduled run is decided here too (`exit_code_for`, `sweep_exit_code`).

Error paths keep the record whole. A run whose input files cannot be kept is removed again
(nothing ran); a command that cannot be started ends FAILED with the shell's 126 and the reason
in its log; a log the run replaced or removed is put back from the file proj kept open
(runner.keptlog); and an end the store cannot take is a RunNotRecordedError that says how the
run ended, never a traceback.
"""

from __future__ import annotations

import signal
import time
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

from runner.backends.base import JobResult, JobState, JobStatus, Scheduler
from runner.errors import CommandNotStartedError, ExitCode, ProjError, RunNotRecordedError, StoreFullError
from runner.keptlog import KeptLog
from runner.tracking.base import JobRecord, RunRecord, RunStatus, TrackingStore, launcher_alive

SCHEDULER_LOG = "scheduler.log"  # the scheduler's own messages, kept with the run once it ended
FORGOTTEN = "the scheduler no longer knows the job"
LAUNCHER_GONE = "launcher gone"
# What a shell reports for a command it could not execute, or could not find.
CANNOT_EXECUTE, NOT_FOUND = 126, 127

# The logs of the runs this process started, kept open until they end (runner.keptlog).
_KEPT_LOGS: dict[str, KeptLog] = {}


class Settler(NamedTuple):
    """One piece of end-of-run work, called with (store, record) once the run has ended and
    before its final status is written."""

    purpose: str  # what it does, for the warning when it fails: "keep its final metrics"
    step: Callable[[TrackingStore, RunRecord], None]


def _import_mlflow_logging(store: TrackingStore, record: RunRecord) -> None:
    store.settle_mlflow(record)


def _save_final_metrics(store: TrackingStore, record: RunRecord) -> None:
    store.save_metrics(record.run_id, store.read_metrics(record.run_id))


# The end-of-run hook, in order; proj's own metrics summary (FINAL_METRICS) always comes after
# them, so that metrics a settler brings in are summarised.
SETTLERS: list[Settler] = [Settler("bring what it logged with MLflow into its record", _import_mlflow_logging)]
FINAL_METRICS = Settler("keep its final metrics", _save_final_metrics)

_JOB_OUTCOMES = {JobState.SUCCEEDED: RunStatus.FINISHED, JobState.FAILED: RunStatus.FAILED,
                 JobState.CANCELLED: RunStatus.KILLED, JobState.UNKNOWN: RunStatus.LOST}


class Ending(NamedTuple):
    """How a run ended, as observed: what `end` records."""

    status: RunStatus
    exit_code: int | None  # the command's code (128 + signal when a signal ended it); None if unknown
    end_time: float
    interrupted_by: int | None = None  # the signal that made proj stop the run (proj exits 128 + it)


class Settlement(NamedTuple):
    """How a run ended, once its record holds the end."""

    record: RunRecord  # as the store now holds it
    exit_code: int  # what proj exits with for this run
    interrupted_by: int | None = None  # the signal that made proj stop the run
    warnings: tuple[str, ...] = ()  # end-of-run work that failed without changing the outcome
    log_error: str | None = None  # why the run's log is incomplete (a full disk), if it is


# --- transitions ---------------------------------------------------------------------------


def start(store: TrackingStore, record: RunRecord, inputs: Mapping[str, bytes] | None = None) -> RunRecord:
    """Record a new run, RUNNING, with the files that went into it (`inputs`: its diff, build
    log and lock); returns it with its id. A run whose files cannot all be kept is removed
    again: nothing ran, and nothing is left half-recorded."""
    started = store.start_run(replace(record, status=RunStatus.RUNNING, end_time=None, exit_code=None))
    try:
        for name, data in (inputs or {}).items():
            store.attach(started.run_id, name, data)
    except BaseException:
        with suppress(ProjError, OSError):
            store.discard_run(started.run_id)
        raise
    _keep_log(store, started.run_id)
    return started


def resume(store: TrackingStore, record: RunRecord, inputs: Mapping[str, bytes] | None = None) -> RunRecord:
    """An existing run RUNNING again, for another execution (`proj run --run-id`,
    runner.continuation), with this execution's files; if they cannot be kept, it ends at once."""
    continued = store.continue_run(replace(record, status=RunStatus.RUNNING, end_time=None, exit_code=None))
    _keep_log(store, continued.run_id)
    try:
        for name, data in (inputs or {}).items():
            store.attach(continued.run_id, name, data)
    except BaseException as err:
        _note(continued.run_id, f"the run could not start: {err}")
        end(store, continued, _ending_for(err))
        raise
    return continued


def end(store: TrackingStore, record: RunRecord, ending: Ending, first: Sequence[Settler] = ()) -> Settlement:
    """End the run: its log put back if the run took it away, the settlers (`first`, then
    SETTLERS and the metrics summary), then the final status. A run that has ended already
    keeps its end. RunNotRecordedError when the store cannot take the end."""
    kept = _KEPT_LOGS.pop(record.run_id, None)
    if record.status.is_terminal:
        if kept is not None:
            kept.close()
        return Settlement(record, exit_code_of(record))
    warnings: list[str] = []
    try:
        if kept is not None:
            restored = kept.restore()
            kept.close()
            warnings += [f"run {record.run_id}: {restored}"] if restored else []
        for settler in [*first, *SETTLERS, FINAL_METRICS]:
            try:
                settler.step(store, record)
            except (ProjError, OSError, ValueError) as err:
                warnings.append(f"run {record.run_id}: could not {settler.purpose}: {err}")
    finally:  # even on Ctrl-C during the settlers, the run gets its status
        final = _record_end(store, record, ending)
    return Settlement(final, exit_code_for(ending.status, ending.exit_code, ending.interrupted_by),
                      ending.interrupted_by, tuple(warnings))


def _record_end(store: TrackingStore, record: RunRecord, ending: Ending) -> RunRecord:
    try:
        return store.end_run(record.run_id, ending.status, ending.exit_code, ending.end_time)
    except ProjError as err:
        code = "no exit code" if ending.exit_code is None else f"exit code {ending.exit_code}"
        hint = err.hint or ""
        if isinstance(err, StoreFullError) or not hint:  # the record is there, RUNNING
            hint += ("; then " if hint else "") + "`proj runs refresh` records the run LOST"
        raise RunNotRecordedError(
            f"Run {record.run_id} ended {ending.status.value} ({code}), but its end could not be "
            f"recorded: {err.message}", hint=hint,
            run_id=record.run_id, status=ending.status.value, run_exit_code=ending.exit_code) from None


def run_attached(store: TrackingStore, record: RunRecord, run: Callable[[], JobResult]) -> Settlement:
    """Run the job while proj waits; whatever happens, the run ends with a status that says so.

    Ctrl-C (KeyboardInterrupt) ends it KILLED and is not raised further; any other error ends
    it FAILED (with the shell's 126 if the command could not be started), its reason added to
    the run's log, and is raised once the run is recorded."""
    try:
        result = run()
    except KeyboardInterrupt as err:
        return end(store, record, _ending_for(err))
    except BaseException as err:
        _note(record.run_id, f"error: {err}")
        end(store, record, _ending_for(err))
        raise
    return end(store, record, ending_of(result))._replace(log_error=result.log_error)


def _ending_for(error: BaseException) -> Ending:
    """How a run ends when `error` stopped it: KILLED on Ctrl-C, else FAILED."""
    if isinstance(error, KeyboardInterrupt):
        return Ending(RunStatus.KILLED, None, time.time(), signal.SIGINT)
    code = None
    if isinstance(error, CommandNotStartedError):
        code = NOT_FOUND if error.not_found else CANNOT_EXECUTE
    return Ending(RunStatus.FAILED, code, time.time())


def _keep_log(store: TrackingStore, run_id: str) -> None:
    kept = KeptLog.open(store.log_path(run_id))
    if kept is not None:
        _KEPT_LOGS[run_id] = kept


def _note(run_id: str, text: str) -> None:
    """proj's own line in the log of a run this process started."""
    kept = _KEPT_LOGS.get(run_id)
    if kept is not None:
        kept.note(text)


def ending_of(result: JobResult) -> Ending:
    """What an attached backend's result means for the run."""
    if result.interrupted_by is not None:
        return Ending(RunStatus.KILLED, result.exit_code, time.time(), result.interrupted_by)
    status = RunStatus.FINISHED if result.exit_code == 0 else RunStatus.FAILED
    return Ending(status, result.exit_code, time.time())


def end_unsubmitted(store: TrackingStore, records: Sequence[RunRecord], error: BaseException) -> None:
    """Runs whose jobs never reached the scheduler end at once: KILLED on Ctrl-C, else FAILED."""
    interrupted = isinstance(error, KeyboardInterrupt)
    ending = Ending(RunStatus.KILLED if interrupted else RunStatus.FAILED, None, time.time(),
                    signal.SIGINT if interrupted else None)
    for record in records:
        _note(record.run_id, f"the job was not submitted: {error}")
        end(store, record, ending)


def settle_job(store: TrackingStore, scheduler: Scheduler, record: RunRecord, status: JobStatus) -> RunRecord:
    """Record what the scheduler said about the run's job; once the job has ended, end the run,
    keep the scheduler's messages with it, and let go of what was kept for the job."""
    job = record.job
    if job is None or record.status.is_terminal:
        return record
    if not status.state.is_final:
        if (job.state, job.reason) == (status.scheduler_state, status.reason):
            return record
        return record_job(store, record, replace(job, state=status.scheduler_state, reason=status.reason))
    messages = scheduler.fetch_log(job.id)
    keep_messages = Settler("keep the scheduler's messages with it",
                            lambda store, record: store.attach(record.run_id, SCHEDULER_LOG, messages))
    reason = status.reason or (FORGOTTEN if status.state is JobState.UNKNOWN else "")
    record = record_job(store, record, replace(job, state=status.scheduler_state or status.state.value, reason=reason))
    # Slurm reports whole seconds: a job that ended within its first second must not end before it began.
    ended = max(status.end_time, record.start_time) if status.end_time else time.time()
    ending = Ending(_JOB_OUTCOMES[status.state], status.exit_code, ended)
    final = end(store, record, ending, [keep_messages] if messages.strip() else []).record
    scheduler.release(job.id)
    if job.checkout:
        from runner.sources import release_kept_checkout

        release_kept_checkout(Path(job.checkout), record.run_id)
    return final


def record_job(store: TrackingStore, record: RunRecord, job: JobRecord) -> RunRecord:
    """The run's scheduler job, or its new state (the run stays RUNNING); stores that cannot keep
    jobs leave it in the returned record only."""
    return store.set_job(record.run_id, job) or replace(record, job=job)


def mark_lost(store: TrackingStore, record: RunRecord) -> RunRecord:
    """The run will never end by itself (its launcher died): record it LOST."""
    return end(store, record, Ending(RunStatus.LOST, None, time.time())).record


def is_orphaned(record: RunRecord) -> bool:
    """RUNNING, not on a scheduler, and the proj that ran it is gone from this host."""
    return (record.status is RunStatus.RUNNING and record.job is None
            and launcher_alive(record.launcher, record.host) is False)


def needs_refresh(record: RunRecord) -> str | None:
    """Why the record is out of date, as far as can be told without asking anyone (reads show
    this; `proj runs refresh` records the change)."""
    return LAUNCHER_GONE if is_orphaned(record) else None


# --- exit codes ----------------------------------------------------------------------------


# The whole scheme (docs/exit-codes.md): 0 success; the entry point's own code passed through
# when it failed; 128 + N when a signal stopped proj; proj's own codes (ExitCode) from 124 up, as
# timeout(1) and env(1) do: 124 a verdict or a wait that gave up, 125 proj refused (nothing ran),
# 126 proj could not set the command up. Errors carry theirs (runner.errors); the rest is here.


def exit_code_for(status: RunStatus, exit_code: int | None, interrupted_by: int | None = None) -> int:
    """What proj exits with for a run: 0 when it finished, the command's code when it failed
    (1 when there is none), 128 + the signal when proj was stopped."""
    if interrupted_by is not None:
        return 128 + interrupted_by
    if status is RunStatus.FINISHED:
        return ExitCode.OK
    return exit_code if exit_code else 1


def timed_out_exit_code() -> int:
    """`proj runs wait --timeout` gave up while the run goes on (timeout(1)'s 124)."""
    return ExitCode.TIMED_OUT


def check_exit_code(run_exit_code: int, reproduced: bool) -> int:
    """What `proj rerun --check` exits with: the re-run's own code when it did not finish (a
    failure is not a verdict), else 0 when it reproduced the original and 124 when it differs."""
    if run_exit_code != ExitCode.OK:
        return run_exit_code
    return ExitCode.OK if reproduced else ExitCode.DIFFERS


def diff_exit_code(same: bool) -> int:
    """`proj runs diff --exit-code`: 0 when the runs agree, 124 when they differ (as --check)."""
    return ExitCode.OK if same else ExitCode.DIFFERS


def exit_code_of(record: RunRecord) -> int:
    """`exit_code_for` a recorded run (`proj runs wait`)."""
    return exit_code_for(record.status, record.exit_code)


def sweep_exit_code(records: Sequence[RunRecord], interrupted_by: int | None, *, detached: bool) -> int:
    """What proj exits with for a sweep: 0 when every point finished (or was submitted, detached)."""
    if interrupted_by is not None:
        return 128 + interrupted_by
    if detached:
        return 0
    return 0 if all(r.status is RunStatus.FINISHED for r in records) else 1
