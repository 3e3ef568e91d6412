"""Running a project: the orchestration of fetch → spec → parameters → environment → record → run.

Each step is one call into the module that owns it; this module only decides the order. What a
run's status becomes is runner.lifecycle's business.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

from runner import lifecycle, supervisor
from runner.backends import AnyBackend, AttachedBackend, Job, Scheduler, get_backend
from runner.command import render_command
from runner.environments import PreparedEnvironment, registry
from runner.environments.kind import BuildSettings, EnvironmentKind, EnvironmentSettings
from runner.errors import ParameterError, UsageError
from runner.experiments import experiment_name
from runner.host import hostname, platform_label, python_version
from runner.params import ResolvedParams, misspelt_parameters, resolve_parameters
from runner.pathvalues import PathDownloads
from runner.project import EntryPoint, Project
from runner.secrets import redact, redact_bytes, secret_values, secret_variables
from runner.sources import ProjectSource, fetch_project
from runner.spec import load_project
from runner.texts import check_record
from runner.tracking import open_store, resolve_tracking_uri
from runner.tracking.base import (
    EnvironmentRecord,
    ParameterRecord,
    Reproduction,
    RunRecord,
    SourceRecord,
    TrackingStore,
    launcher_token,
)
from runner.version import __version__


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...


class RunRequest(NamedTuple):
    """What to run and how: the options of `proj run` (and of runner.run)."""

    uri: str
    entry_point: str = "main"
    version: str | None = None
    parameters: Mapping[str, str] = MappingProxyType({})
    experiment: str | None = None  # a name; None: experiment_id, else Default (runner.experiments)
    experiment_id: str | None = None
    run_id: str | None = None  # continue this run instead of starting one (runner.continuation)
    storage_dir: Path | None = None  # where `path` values given as URLs are downloaded (runner.pathvalues)
    run_name: str | None = None
    env_manager: str | None = None
    tracking_uri: str | None = None
    backend: str = "local"
    strict: bool = False
    environment: EnvironmentSettings = EnvironmentSettings()  # --installer, --lock, ...
    apply_diff: bytes | None = None  # a recorded run's uncommitted changes (re-runs)
    archive_sha256: str | None = None  # the project archive must have this hash (re-runs)
    reproduction: Reproduction | None = None  # set by `proj rerun`
    backend_config: Mapping[str, Any] | None = None  # --backend-config, read
    detach: bool = False  # hand the run to a scheduler and return at once
    sweep_id: str | None = None  # set on every point of a `--sweep` (runner.sweeps)
    tags: Mapping[str, str] = MappingProxyType({})  # the user's tags (--tag), checked by runner.runmanage
    description: str | None = None


class OpenedProject(NamedTuple):
    """A fetched and read project, with the entry point and environment a run uses."""

    source: ProjectSource
    project: Project
    entry_point: EntryPoint
    kind: EnvironmentKind  # the environment kind the run uses
    settings: BuildSettings  # and what it builds with


@dataclass
class RunPlan:
    """Everything decided before anything is built or recorded (what --dry-run shows)."""

    source: ProjectSource
    project: Project
    entry_point: EntryPoint
    params: ResolvedParams
    command: str
    kind: EnvironmentKind
    settings: BuildSettings


class RunOutcome(NamedTuple):
    """How a run ended, and what proj exits with for it."""

    record: RunRecord
    exit_code: int  # what proj should exit with
    log_error: str | None = None  # why the run's log is incomplete (a full disk), if it is
    interrupted_by: int | None = None  # the signal that made proj stop the run


@contextmanager
def planned_run(request: RunRequest, reporter: Reporter) -> Iterator[RunPlan]:
    """Fetch the project and resolve everything about the run; the source is released on exit."""
    with opened_project(request, reporter) as opened:
        yield plan_point(opened, request.parameters)


@contextmanager
def opened_project(request: RunRequest, reporter: Reporter) -> Iterator[OpenedProject]:
    """Fetch the project, load its spec, pick the entry point and the environment kind; the
    source is released on exit. Parameters come next (`plan_point`), once per sweep point."""
    with fetch_project(request.uri, request.version, progress=reporter.info, apply_diff=request.apply_diff,
                       archive_sha256=request.archive_sha256) as source:
        project = load_project(source.path, strict=request.strict)
        for warning in project.warnings:
            reporter.warning(warning.as_text())
        entry_point = project.entry_point(request.entry_point)
        _check_parameter_names(entry_point, request.parameters, request.strict, reporter)
        kind = registry.choose_kind(project, request.env_manager)
        if request.env_manager is not None and request.env_manager not in kind.managers:
            reporter.warning(f"this project declares {kind.section}, so it runs in {kind.name} (as with MLflow); "
                             f"--env-manager {request.env_manager} is ignored")
        for flag in registry.ignored_flags(kind, request.environment):
            reporter.warning(flag)
        yield OpenedProject(source, project, entry_point, kind, kind.settings(request.environment))


def _check_labels(request: RunRequest) -> None:
    if request.tags or request.description is not None:  # runmanage only when there is something to check
        from runner.runmanage import check_labels

        check_labels(request.tags, request.description)


def _check_parameter_names(entry_point: EntryPoint, names: Iterable[str], strict: bool,
                           reporter: Reporter) -> None:
    """Near misses of declared names: warnings, or one error under --strict."""
    messages = misspelt_parameters(entry_point, names)
    if messages and strict:
        raise ParameterError("\n".join(messages), hint="fix the name, or leave out --strict to pass it on")
    for message in messages:
        reporter.warning(message)


def plan_point(opened: OpenedProject, parameters: Mapping[str, str]) -> RunPlan:
    """Type-check `parameters` for the opened entry point and render its command."""
    params = resolve_parameters(opened.entry_point, dict(parameters), cwd=Path.cwd(),
                                project_root=opened.project.root)
    command = render_command(opened.entry_point.command, params)
    return RunPlan(opened.source, opened.project, opened.entry_point, params, command, opened.kind, opened.settings)


def run_project(
    request: RunRequest,
    reporter: Reporter,
    *,
    terminal: BinaryIO,
    on_started: Callable[[RunRecord, TrackingStore], None] = lambda record, store: None,
) -> RunOutcome:
    """Run the project end to end and record it; returns the finished record (still RUNNING
    when detached: the scheduler runs it, and `proj runs refresh` settles it)."""
    _check_labels(request)
    backend = get_backend(request.backend, request.backend_config)  # a bad name or config: nothing fetched
    supervisor.start()  # the process supervisor starts up while the project is fetched and prepared
    downloads = PathDownloads(request.storage_dir, reporter.info)
    # A checkout a scheduled job still needs outlives the block (runner.scheduling keeps it).
    with planned_run(request, reporter) as plan:
        try:
            return _run_planned(request, plan, backend, reporter, downloads, terminal, on_started)
        finally:
            if not request.detach:  # a detached job reads its downloads later
                downloads.release()


def _run_planned(request: RunRequest, plan: RunPlan, backend: AnyBackend, reporter: Reporter,
                 downloads: PathDownloads, terminal: BinaryIO,
                 on_started: Callable[[RunRecord, TrackingStore], None]) -> RunOutcome:
    store, prepared = prepare_run(request, plan, backend, reporter, downloads=downloads, plans=[plan])
    record = begin_run(store, request, plan, prepared)
    on_started(record, store)
    if isinstance(backend, Scheduler):
        from runner.scheduling import ScheduledRun, submit_runs

        run = ScheduledRun(record, lambda: job_for(store, record, plan, prepared))
        scheduled = submit_runs(store, backend, [run], plan.source, detach=request.detach,
                                terminal=terminal, progress=reporter.info)
        final = scheduled.records[0]
        code = 0 if request.detach else lifecycle.exit_code_for(final.status, final.exit_code,
                                                                 scheduled.interrupted_by)
        return RunOutcome(final, code, interrupted_by=scheduled.interrupted_by)
    return run_here(store, backend, record, lambda: job_for(store, record, plan, prepared), terminal, reporter)


@contextmanager
def dry_run(request: RunRequest, reporter: Reporter) -> Iterator[RunPlan]:
    """Every check a run makes before it builds, records or runs anything; the plan, its source
    released on exit. Nothing is created (not even a new local store)."""
    _check_labels(request)
    backend = get_backend(request.backend, request.backend_config)
    with planned_run(request, reporter) as plan:
        check_run(request, plan, backend, dry_run=True)
        plan.kind.create(plan.project, plan.settings)  # checks its options
        yield plan


def check_run(request: RunRequest, plan: RunPlan, backend: AnyBackend, *, dry_run: bool = False) -> TrackingStore:
    """Open the store and refuse what cannot work, before anything is built or run."""
    store = open_store(resolve_tracking_uri(request.tracking_uri))
    if dry_run:
        store.preflight()
    else:
        store.check_writable()  # a broken store must fail before anything is built or run
    backend.check_environment(plan.kind.name, plan.kind.invocation_kind)
    if request.detach and not isinstance(backend, Scheduler):
        raise UsageError(f"The {backend.name} backend cannot run detached: the run ends with proj",
                         hint="use --backend slurm (or a scheduler plugin), or leave out --detach")
    if request.detach and not store.supports_detached_runs:
        raise UsageError(f"--detach needs a tracking store any proj can finish runs in, and {store.uri} "
                         "can only be finished by the proj that started the run",
                         hint="record detached runs in a local store (--tracking-uri PATH)")
    if request.run_id is not None:
        _run_to_continue(store, request, plan)
    else:
        experiment_name(store, request.experiment, request.experiment_id)  # an unknown id fails here
    return store


def prepare_run(request: RunRequest, plan: RunPlan, backend: AnyBackend, reporter: Reporter, *,
                downloads: PathDownloads | None = None,
                plans: Sequence[RunPlan] = ()) -> tuple[TrackingStore, PreparedEnvironment]:
    """Open the store, download the `path` values given as URLs (into each of `plans`), and
    build (or reuse) the environment, once what cannot work is refused."""
    store = check_run(request, plan, backend)
    if downloads is not None:
        for each in plans:
            each.params = downloads.fetch(each.params)
            each.command = render_command(each.entry_point.command, each.params)
    environment = plan.kind.create(plan.project, plan.settings)
    return store, environment.prepare(reporter.info)


def begin_run(store: TrackingStore, request: RunRequest, plan: RunPlan, prepared: PreparedEnvironment) -> RunRecord:
    """Record the new run (RUNNING) with what went into it; or continue the run `--run-id` names."""
    secrets = secret_values()
    if request.run_id is None:
        experiment = experiment_name(store, request.experiment, request.experiment_id)
        record = _recordable(_redacted(_new_record(request, plan, prepared, experiment), secrets))
        return lifecycle.start(store, record, _inputs(plan.source, prepared, secrets))
    from runner.continuation import continued_record

    existing = _run_to_continue(store, request, plan)
    fresh = _new_record(request, plan, prepared, existing.experiment)
    record = _recordable(_redacted(continued_record(existing, fresh, request.run_name), secrets))
    return lifecycle.resume(store, record, _inputs(plan.source, prepared, secrets))


def _run_to_continue(store: TrackingStore, request: RunRequest, plan: RunPlan) -> RunRecord:
    from runner.continuation import run_to_continue  # --run-id only

    assert request.run_id is not None
    logged = {p.name: p.given if p.given is not None else p.rendered for p in plan.params}
    return run_to_continue(store, request.run_id, experiment=request.experiment,
                           experiment_id=request.experiment_id, parameters=logged)


def job_for(store: TrackingStore, record: RunRecord, plan: RunPlan, prepared: PreparedEnvironment) -> Job:
    """What the backend starts: the rendered command inside the environment, with the run's variables."""
    invocation = prepared.invocation(plan.command, plan.project.root, _child_environment(store, record))
    return Job(record.run_id, invocation, store.log_path(record.run_id))


def run_here(store: TrackingStore, backend: AttachedBackend, record: RunRecord, make_job: Callable[[], Job],
             terminal: BinaryIO, reporter: Reporter) -> RunOutcome:
    """Run the job attached, with a backend that runs it while proj waits (the local one)."""
    # make_job is called inside the lifecycle: an invocation the environment refuses (a docker
    # network that cannot reach the store) still ends the run's record as FAILED.
    settled = lifecycle.run_attached(store, record, lambda: backend.run(make_job(), terminal=terminal))
    if settled.log_error:
        reporter.warning(f"the run's log is incomplete: writing it failed ({settled.log_error})")
    for problem in store.read_metrics(record.run_id).problems:
        reporter.warning(problem)
    for warning in [*settled.warnings, *store.take_warnings()]:
        reporter.warning(warning)
    return RunOutcome(settled.record, settled.exit_code, settled.log_error, settled.interrupted_by)


def _new_record(request: RunRequest, plan: RunPlan, prepared: PreparedEnvironment, experiment: str) -> RunRecord:
    source = plan.source
    return RunRecord(
        experiment=experiment,
        run_name=request.run_name or f"{plan.project.name or plan.project.root.name}:{plan.entry_point.name}",
        entry_point=plan.entry_point.name,
        command=plan.command,
        source=SourceRecord(uri=source.uri, kind=source.kind, path=str(source.path),
                            subdirectory=source.subdirectory, version=source.version, commit=source.commit,
                            dirty=source.dirty, diff_hash=source.diff_hash, repo_url=source.repo_url,
                            archive_sha256=source.archive_sha256),
        parameters=[ParameterRecord(p.name, p.type, p.given, p.value, p.rendered, p.declared)
                    for p in plan.params],
        environment=EnvironmentRecord(kind=prepared.kind, key=prepared.key, python=prepared.python,
                                      lock=prepared.lock_name if prepared.lock else None,
                                      details=dict(prepared.details),
                                      options=plan.kind.recorded_settings(plan.settings)),
        user=_user(),
        host=hostname(),
        platform=platform_label(),
        python_version=python_version(),
        proj_version=__version__,
        launcher=launcher_token(),
        start_time=time.time(),
        backend=request.backend,
        backend_config=dict(request.backend_config or {}),
        reproduction=request.reproduction,
        sweep_id=request.sweep_id,
        tags=dict(request.tags),
        description=request.description or "",
    )


def _recordable(record: RunRecord) -> RunRecord:
    """The record, once it holds only text a store can keep (a folder named in another encoding)."""
    check_record(record.to_dict(), "Cannot record the run")
    return record


def _redacted(record: RunRecord, secrets: list[str]) -> RunRecord:
    """The record with the values of secret-looking environment variables replaced by ***; a
    parameter given exactly such a value notes the variable's name, for `proj rerun`."""
    if not secrets:
        return record
    variables = secret_variables()
    for parameter in record.parameters:
        if parameter.given is not None and parameter.given in variables:
            parameter.secret_from = variables[parameter.given]
    return RunRecord.from_dict(redact(record.to_dict(), secrets))


def _inputs(source: ProjectSource, prepared: PreparedEnvironment, secrets: list[str]) -> dict[str, bytes]:
    """The files kept with the run: its uncommitted changes, environment build log and lock."""
    inputs = {}
    if source.diff:
        inputs["diff.patch"] = source.diff  # the code itself: kept exactly
    if prepared.build_log:
        inputs["build.log"] = redact_bytes(prepared.build_log, secrets)
    if prepared.lock and prepared.lock_name:
        inputs[prepared.lock_name] = redact_bytes(prepared.lock, secrets)
    return inputs


def _child_environment(store: TrackingStore, record: RunRecord) -> dict[str, str]:
    env = dict(os.environ)
    # Python buffers stdout when it is a pipe; unbuffered, a training loop's output streams live.
    env["PYTHONUNBUFFERED"] = "1"
    env["PROJ_OUTPUT_DIR"] = str(store.output_dir(record.run_id))
    env.update(store.child_environment(record))
    return env


def _user() -> str:
    """getpass.getuser()'s rule (the login variables, then the password database), without
    importing getpass, whose module imports termios for its prompts (start-up budget)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):  # no passwd entry (common in containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"

