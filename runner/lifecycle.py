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
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from runner.backends.base import JobResult, JobState, JobStatus, Scheduler
from runner.errors import ExitCode, ProjError
from runner.tracking.base import JobRecord, RunRecord, RunStatus, TrackingStore, launcher_alive

SCHEDULER_LOG = "scheduler.log"  # the scheduler's own messages, kept with the run once it ended
FORGOTTEN = "the scheduler no longer knows the job"
LAUNCHER_GONE = "launcher gone"


@dataclass(frozen=True)
class Settler:
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


@dataclass(frozen=True)
class Ending:
    """How a run ended, as observed: what `end` records."""

    status: RunStatus
    exit_code: int | None  # the command's code (128 + signal when a signal ended it); None if unknown
    end_time: float
    interrupted_by: int | None = None  # the signal that made proj stop the run (proj exits 128 + it)


@dataclass(frozen=True)
class Settlement:
    record: RunRecord  # as the store now holds it
    exit_code: int  # what proj exits with for this run
    interrupted_by: int | None = None  # the signal that made proj stop the run
    warnings: tuple[str, ...] = ()  # end-of-run work that failed without changing the outcome
    log_error: str | None = None  # why the run's log is incomplete (a full disk), if it is


# --- transitions ---------------------------------------------------------------------------


def start(store: TrackingStore, record: RunRecord) -> RunRecord:
    """Record a new run, RUNNING; returns it with its id."""
    return store.start_run(replace(record, status=RunStatus.RUNNING, end_time=None, exit_code=None))


def resume(store: TrackingStore, record: RunRecord) -> RunRecord:
    """An existing run RUNNING again, for another execution (`proj run --run-id`, runner.continuation)."""
    return store.continue_run(replace(record, status=RunStatus.RUNNING, end_time=None, exit_code=None))


def end(store: TrackingStore, record: RunRecord, ending: Ending) -> Settlement:
    """End the run: the settlers, then the final status. A run that has ended already keeps its end."""
    if record.status.is_terminal:
        return Settlement(record, exit_code_of(record))
    warnings: list[str] = []
    try:
        for settler in [*SETTLERS, FINAL_METRICS]:
            try:
                settler.step(store, record)
            except (ProjError, OSError, ValueError) as err:
                warnings.append(f"run {record.run_id}: could not {settler.purpose}: {err}")
    finally:  # even on Ctrl-C during the settlers, the run gets its status
        final = store.end_run(record.run_id, ending.status, ending.exit_code, ending.end_time)
    return Settlement(final, exit_code_for(ending.status, ending.exit_code, ending.interrupted_by),
                      ending.interrupted_by, tuple(warnings))


def run_attached(store: TrackingStore, record: RunRecord, run: Callable[[], JobResult]) -> Settlement:
    """Run the job while proj waits; whatever happens, the run ends with a status that says so.

    Ctrl-C (KeyboardInterrupt) ends it KILLED and is not raised further; any other error ends
    it FAILED and is raised once the run is recorded."""
    ending = Ending(RunStatus.FAILED, None, 0.0)
    log_error = None
    try:
        result = run()
        ending, log_error = ending_of(result), result.log_error
    except KeyboardInterrupt:
        ending = Ending(RunStatus.KILLED, None, 0.0, signal.SIGINT)
    finally:
        settled = end(store, record, replace(ending, end_time=time.time()))
    return replace(settled, log_error=log_error)


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
    if messages.strip():
        store.attach(record.run_id, SCHEDULER_LOG, messages)
    reason = status.reason or (FORGOTTEN if status.state is JobState.UNKNOWN else "")
    record = record_job(store, record, replace(job, state=status.scheduler_state or status.state.value, reason=reason))
    # Slurm reports whole seconds: a job that ended within its first second must not end before it began.
    ended = max(status.end_time, record.start_time) if status.end_time else time.time()
    final = end(store, record, Ending(_JOB_OUTCOMES[status.state], status.exit_code, ended)).record
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
