"""runner.lifecycle and runner.refresh in-process: every status a run can get, who gives it, and
the one exit-code mapping. Runs are recorded in a real local store; scheduled runs go to the
FAKE scheduler of tests/data/plugin-scheduler (a Scheduler written for tests, installed as a
plugin, whose jobs really run in detached workers)."""

from __future__ import annotations

import signal
import time

import pytest

from helpers.processes import wait_for
from helpers.records import dead_launcher, new_record
from runner import lifecycle, plugins
from runner.backends import get_scheduler
from runner.backends.base import Job, JobResult, JobState, JobStatus
from runner.errors import TrackingError
from runner.invocation import HostInvocation
from runner.refresh import cancel_run, refresh_runs, running_runs
from runner.scheduling import ScheduledRun, submit_runs
from runner.sources import fetch_project
from runner.tracking.base import JobRecord, RunRecord, RunStatus
from runner.tracking.local import LocalStore


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def fake(plugin_sites, monkeypatch):
    """The fake scheduler, installed as a plugin that this process and its workers find."""
    site = str(plugin_sites["plugin-scheduler"])
    monkeypatch.syspath_prepend(site)
    monkeypatch.setenv("PYTHONPATH", site)
    plugins._load.cache_clear()  # entry points are scanned once per process
    yield get_scheduler("fake")
    plugins._load.cache_clear()


def started(store: LocalStore, **fields) -> RunRecord:
    return lifecycle.start(store, new_record(**fields))


# --- attached runs -----------------------------------------------------------------------------

@pytest.mark.parametrize("result, status, recorded, proj_exit", [
    (JobResult(0), RunStatus.FINISHED, 0, 0),
    (JobResult(3), RunStatus.FAILED, 3, 3),
    (JobResult(143, interrupted_by=signal.SIGTERM), RunStatus.KILLED, 143, 143),
    (JobResult(137), RunStatus.FAILED, 137, 137),  # killed by a signal proj did not send
])
def test_an_attached_run_ends_as_its_result_says(store, result, status, recorded, proj_exit):
    record = started(store)
    settled = lifecycle.run_attached(store, record, lambda: result)
    assert (settled.record.status, settled.record.exit_code, settled.exit_code) == (status, recorded, proj_exit)
    assert store.get_run(record.run_id).status is status and settled.record.end_time >= record.start_time


def test_ctrl_c_ends_an_attached_run_killed_without_raising(store):
    def interrupted() -> JobResult:
        raise KeyboardInterrupt

    settled = lifecycle.run_attached(store, started(store), interrupted)
    assert (settled.record.status, settled.exit_code, settled.interrupted_by) == (RunStatus.KILLED, 130, 2)


def test_any_other_error_ends_the_run_failed_and_is_raised(store):
    record = started(store)

    def broken() -> JobResult:
        raise RuntimeError("the backend broke")

    with pytest.raises(RuntimeError, match="the backend broke"):
        lifecycle.run_attached(store, record, broken)
    assert (store.get_run(record.run_id).status, store.get_run(record.run_id).exit_code) == (RunStatus.FAILED, None)


def test_a_run_that_has_ended_keeps_its_first_ending(store):
    record = started(store)
    lifecycle.end(store, record, lifecycle.Ending(RunStatus.KILLED, None, time.time(), signal.SIGINT))
    again = lifecycle.end(store, record, lifecycle.Ending(RunStatus.FINISHED, 0, time.time()))
    assert again.record.status is RunStatus.KILLED
    ended = store.get_run(record.run_id)
    settled = lifecycle.end(store, ended, lifecycle.Ending(RunStatus.FINISHED, 0, time.time()))
    assert (settled.record.status, settled.exit_code) == (RunStatus.KILLED, 1)


# --- settlers: the end-of-run hook -------------------------------------------------------------

def test_settlers_run_before_the_final_status_and_what_they_add_is_summarised(store, monkeypatch):
    seen: list[tuple[RunStatus, RunStatus]] = []

    def import_logged_metrics(store_: LocalStore, record: RunRecord) -> None:
        seen.append((record.status, store_.get_run(record.run_id).status))
        metrics = store_.output_dir(record.run_id) / "metrics.jsonl"
        metrics.write_text('{"key": "imported", "value": 2.5, "step": 1}\n')

    monkeypatch.setattr(lifecycle, "SETTLERS", [lifecycle.Settler("import its metrics", import_logged_metrics)])
    record = started(store)
    settled = lifecycle.run_attached(store, record, lambda: JobResult(0))

    assert seen == [(RunStatus.RUNNING, RunStatus.RUNNING)]
    assert settled.record.status is RunStatus.FINISHED
    assert store.get_run(record.run_id).metrics["imported"]["last"] == 2.5


def test_a_failing_settler_costs_a_warning_never_the_status(store, monkeypatch):
    calls: list[str] = []

    def broken(store_: LocalStore, record: RunRecord) -> None:
        raise TrackingError("the capture database is unreadable")

    def next_one(store_: LocalStore, record: RunRecord) -> None:
        calls.append(record.run_id)

    monkeypatch.setattr(lifecycle, "SETTLERS", [lifecycle.Settler("read its capture", broken),
                                                lifecycle.Settler("count it", next_one)])
    record = started(store)
    settled = lifecycle.run_attached(store, record, lambda: JobResult(0))

    assert settled.record.status is RunStatus.FINISHED and calls == [record.run_id]
    assert settled.warnings == (f"run {record.run_id}: could not read its capture: the capture database is "
                                "unreadable",)


def test_settlers_are_not_called_for_a_run_that_has_ended(store, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(lifecycle, "SETTLERS", [lifecycle.Settler("count it", lambda s, r: calls.append(r.run_id))])
    record = started(store)
    store.end_run(record.run_id, RunStatus.FAILED, 1, time.time())
    lifecycle.end(store, store.get_run(record.run_id), lifecycle.Ending(RunStatus.FINISHED, 0, time.time()))
    assert calls == []


# --- scheduled runs ----------------------------------------------------------------------------

def scheduled(store: LocalStore, job_id: str = "1", state: str = "SUBMITTED") -> RunRecord:
    record = started(store, backend="fake")
    return lifecycle.record_job(store, record, JobRecord(job_id, state, detached=True))


def test_a_waiting_job_changes_the_job_state_and_nothing_else(store, fake):
    record = scheduled(store)
    waiting = JobStatus(JobState.PENDING, scheduler_state="PENDING", reason="Priority")
    settled = lifecycle.settle_job(store, fake, record, waiting)
    assert (settled.status, settled.job.state, settled.job.reason) == (RunStatus.RUNNING, "PENDING", "Priority")
    assert store.get_run(record.run_id).job == settled.job
    assert lifecycle.settle_job(store, fake, settled, waiting) is settled  # nothing new: nothing written


@pytest.mark.parametrize("state, status", [
    (JobState.SUCCEEDED, RunStatus.FINISHED), (JobState.FAILED, RunStatus.FAILED),
    (JobState.CANCELLED, RunStatus.KILLED), (JobState.UNKNOWN, RunStatus.LOST)])
def test_a_final_job_state_ends_the_run(store, fake, state, status):
    record = scheduled(store)
    early = record.start_time - 0.5  # Slurm's whole seconds can put the end before the start
    final = lifecycle.settle_job(store, fake, record, JobStatus(state, 9, end_time=early))
    assert (final.status, final.end_time, final.job.state) == (status, record.start_time, state.value)
    if state is JobState.UNKNOWN:
        assert final.job.reason == lifecycle.FORGOTTEN


def test_a_detached_job_is_settled_by_refresh_with_its_checkout_released(store, fake, tmp_path):
    from helpers.gitrepo import GitRepo

    repo = GitRepo.create(tmp_path / "repo", {"MLproject": "entry_points: {main: {command: 'true'}}\n"})
    with fetch_project(repo.url) as source:
        record = started(store, backend="fake")
        job = Job(record.run_id, HostInvocation(("bash", "-c", "echo in-the-job; exit 5"), {"PATH": "/usr/bin:/bin"},
                                            source.path), store.log_path(record.run_id))
        submitted = submit_runs(store, fake, [ScheduledRun(record, lambda: job)], source, detach=True)
        checkout = source.path
    [pending] = submitted.records
    assert pending.status is RunStatus.RUNNING and checkout.is_dir()  # kept: the job needs it
    wait_for(lambda: fake.poll(pending.job.id).state.is_final, timeout=30, what="the fake job to end")

    refreshed = refresh_runs(store, running_runs(store))

    [final] = refreshed.records
    assert (final.status, final.exit_code, refreshed.changed, refreshed.problems) == (RunStatus.FAILED, 5, [final], [])
    assert store.read_attachment(final.run_id, "output.log") == b"in-the-job\n"
    assert not checkout.exists()


def test_cancelling_a_job_ends_its_run_killed(store, fake, tmp_path):
    record = started(store, backend="fake")
    job = Job(record.run_id, HostInvocation(("sleep", "300"), {"PATH": "/usr/bin:/bin"}, tmp_path),
              store.log_path(record.run_id))
    with fetch_project(str(tmp_path)) as source:
        [pending] = submit_runs(store, fake, [ScheduledRun(record, lambda: job)], source, detach=True).records
    wait_for(lambda: fake.poll(pending.job.id).state is JobState.RUNNING, timeout=30, what="the job to start")
    final = cancel_run(store, pending)
    assert (final.status, final.exit_code, final.job.state) == (RunStatus.KILLED, 143, "CANCELLED")
    assert b"CANCELLED" in store.read_attachment(final.run_id, lifecycle.SCHEDULER_LOG)


def test_a_job_never_submitted_ends_its_run(store, fake, tmp_path):
    record = started(store, backend="fake")

    def refused() -> Job:
        raise TrackingError("the job's log cannot be created")

    with fetch_project(str(tmp_path)) as source, pytest.raises(TrackingError):
        submit_runs(store, fake, [ScheduledRun(record, refused)], source, detach=True)
    assert store.get_run(record.run_id).status is RunStatus.FAILED


# --- LOST, and refresh -------------------------------------------------------------------------

def test_refresh_marks_lost_only_runs_whose_launcher_is_gone_from_this_host(store):
    orphan = started(store, launcher=dead_launcher())
    alive = started(store)
    elsewhere = started(store, launcher=dead_launcher(), host="another-host")
    assert lifecycle.needs_refresh(orphan) == "launcher gone" and lifecycle.needs_refresh(alive) is None

    refreshed = refresh_runs(store, running_runs(store))

    assert [r.run_id for r in refreshed.changed] == [orphan.run_id]
    statuses = {r.run_id: r.status for r in refreshed.records}
    assert statuses == {orphan.run_id: RunStatus.LOST, alive.run_id: RunStatus.RUNNING,
                        elsewhere.run_id: RunStatus.RUNNING}
    assert store.get_run(orphan.run_id).end_time is not None


def test_a_scheduler_that_cannot_be_asked_leaves_its_runs_and_is_reported(store):
    orphan = started(store, launcher=dead_launcher())
    unknown = lifecycle.record_job(store, started(store, backend="no-such-scheduler"), JobRecord("1", "RUNNING"))

    refreshed = refresh_runs(store, running_runs(store))

    assert [str(p).split(";")[0] for p in refreshed.problems] == ["Unknown backend 'no-such-scheduler'"]
    assert store.get_run(unknown.run_id).status is RunStatus.RUNNING
    assert store.get_run(orphan.run_id).status is RunStatus.LOST


# --- exit codes --------------------------------------------------------------------------------

@pytest.mark.parametrize("status, code, interrupted, expected", [
    (RunStatus.FINISHED, 0, None, 0), (RunStatus.FAILED, 4, None, 4), (RunStatus.FAILED, None, None, 1),
    (RunStatus.LOST, None, None, 1), (RunStatus.KILLED, 143, None, 143), (RunStatus.KILLED, None, 2, 130),
    (RunStatus.FINISHED, 0, 15, 143),
])
def test_one_exit_code_mapping(status, code, interrupted, expected):
    assert lifecycle.exit_code_for(status, code, interrupted) == expected


def test_a_sweep_exits_zero_only_when_every_point_finished(store):
    finished = [new_record(status=RunStatus.FINISHED), new_record(status=RunStatus.FINISHED)]
    assert lifecycle.sweep_exit_code(finished, None, detached=False) == 0
    assert lifecycle.sweep_exit_code([*finished, new_record(status=RunStatus.FAILED)], None, detached=False) == 1
    assert lifecycle.sweep_exit_code([new_record()], None, detached=True) == 0
    assert lifecycle.sweep_exit_code(finished, signal.SIGINT, detached=False) == 130

