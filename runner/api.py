"""Running a project: the orchestration of fetch → spec → parameters → environment → record → run.

Each step is one call into the module that owns it; this module only decides the order, and is
the one place where what happened during a run becomes the run's final status.
"""

from __future__ import annotations

import getpass
import os
import platform
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, Protocol

from runner import __version__
from runner.command import render_command
from runner.backends import Job, get_backend
from runner.environments import EnvironmentOptions, choose_manager, create_environment
from runner.params import ResolvedParams, resolve_parameters
from runner.sources import ProjectSource, fetch_project
from runner.spec import EntryPoint, Project, load_project
from runner.tracking import open_store, resolve_tracking_uri
from runner.tracking.base import (
    EnvironmentRecord,
    ParameterRecord,
    Reproduction,
    RunRecord,
    RunStatus,
    SourceRecord,
    TrackingStore,
    launcher_token,
)


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...


@dataclass(frozen=True)
class RunRequest:
    uri: str
    entry_point: str = "main"
    version: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    experiment: str = "Default"
    run_name: str | None = None
    env_manager: str | None = None
    tracking_uri: str | None = None
    backend: str = "local"
    strict: bool = False
    environment_options: EnvironmentOptions = field(default_factory=EnvironmentOptions)
    apply_diff: bytes | None = None  # a recorded run's uncommitted changes (re-runs)
    reproduction: Reproduction | None = None  # set by `proj rerun`


@dataclass
class RunPlan:
    """Everything decided before anything is built or recorded (what --dry-run shows)."""

    source: ProjectSource
    project: Project
    entry_point: EntryPoint
    params: ResolvedParams
    command: str
    manager: str


@dataclass(frozen=True)
class RunOutcome:
    record: RunRecord
    exit_code: int  # what proj should exit with


def plan_run(request: RunRequest, reporter: Reporter) -> RunPlan:
    """Fetch the project and resolve everything about the run; the caller releases the source."""
    source = fetch_project(request.uri, request.version, progress=reporter.info, apply_diff=request.apply_diff)
    try:
        project = load_project(source.path, strict=request.strict)
        for warning in project.warnings:
            reporter.warning(warning.as_text())
        entry_point = project.entry_point(request.entry_point)
        params = resolve_parameters(entry_point, dict(request.parameters), cwd=Path.cwd(),
                                    project_root=project.root)
        command = render_command(entry_point.command, params)
        manager = choose_manager(project, request.env_manager)
    except BaseException:
        source.release()
        raise
    return RunPlan(source, project, entry_point, params, command, manager)


def run_project(
    request: RunRequest,
    reporter: Reporter,
    *,
    terminal: BinaryIO,
    on_started: Callable[[RunRecord, TrackingStore], None] = lambda record, store: None,
) -> RunOutcome:
    """Run the project end to end and record it; returns the finished record."""
    plan = plan_run(request, reporter)
    try:
        store = open_store(resolve_tracking_uri(request.tracking_uri))
        store.check_writable()  # a broken store must fail before anything is built or run
        backend = get_backend(request.backend)
        environment = create_environment(plan.manager, plan.project, request.environment_options)
        prepared = environment.prepare(reporter.info)
        record = store.start_run(_new_record(request, plan, prepared))
        _attach_inputs(store, record, plan.source, prepared)
        on_started(record, store)
        env = _child_environment(store, record)

        def run_job():
            # Inside _execute: an invocation the environment refuses (a docker network that
            # cannot reach the store) still ends the run's record as FAILED.
            invocation = prepared.invocation(plan.command, plan.project.root, env)
            job = Job(record.run_id, invocation, store.log_path(record.run_id))
            return backend.run(job, terminal=terminal)

        outcome = _execute(store, record, run_job)
        for problem in store.read_metrics(record.run_id).problems:
            reporter.warning(problem)
        for warning in store.take_warnings():
            reporter.warning(warning)
        return outcome
    finally:
        plan.source.release()


def _execute(store: TrackingStore, record: RunRecord, run: Callable) -> RunOutcome:
    """Run the job; whatever happens, the record ends with a status that says so."""
    status, exit_code, proj_exit = RunStatus.FAILED, None, 1
    try:
        result = run()
        exit_code = proj_exit = result.exit_code
        if result.interrupted_by is not None:
            status, proj_exit = RunStatus.KILLED, 128 + result.interrupted_by
        elif result.exit_code == 0:
            status = RunStatus.FINISHED
    except KeyboardInterrupt:
        status, proj_exit = RunStatus.KILLED, 128 + signal.SIGINT
    finally:
        final = store.end_run(record.run_id, status, exit_code, time.time())
    return RunOutcome(final, proj_exit)


def _new_record(request: RunRequest, plan: RunPlan, prepared) -> RunRecord:
    source = plan.source
    return RunRecord(
        experiment=request.experiment,
        run_name=request.run_name or f"{plan.project.name or plan.project.root.name}:{plan.entry_point.name}",
        entry_point=plan.entry_point.name,
        command=plan.command,
        source=SourceRecord(uri=source.uri, kind=source.kind, path=str(source.path),
                            subdirectory=source.subdirectory, version=source.version, commit=source.commit,
                            dirty=source.dirty, diff_hash=source.diff_hash, repo_url=source.repo_url),
        parameters=[ParameterRecord(p.name, p.type, p.given, p.value, p.rendered, p.declared)
                    for p in plan.params],
        environment=EnvironmentRecord(kind=prepared.kind, key=prepared.key, python=prepared.python,
                                      lock=prepared.lock_name if prepared.lock else None,
                                      details=dict(prepared.details)),
        user=_user(),
        host=socket.gethostname(),
        platform=platform.platform(),
        python_version=platform.python_version(),
        proj_version=__version__,
        launcher=launcher_token(),
        start_time=time.time(),
        backend=request.backend,
        reproduction=request.reproduction,
    )


def _attach_inputs(store: TrackingStore, record: RunRecord, source: ProjectSource, prepared) -> None:
    if source.diff:
        store.attach(record.run_id, "diff.patch", source.diff)
    if prepared.build_log:
        store.attach(record.run_id, "build.log", prepared.build_log)
    if prepared.lock and prepared.lock_name:
        store.attach(record.run_id, prepared.lock_name, prepared.lock)


def _child_environment(store: TrackingStore, record: RunRecord) -> dict[str, str]:
    env = dict(os.environ)
    # Python buffers stdout when it is a pipe; unbuffered, a training loop's output streams live.
    env["PYTHONUNBUFFERED"] = "1"
    env["PROJ_OUTPUT_DIR"] = str(store.output_dir(record.run_id))
    env.update(store.child_environment(record))
    return env


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (common in containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"

