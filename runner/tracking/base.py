"""The run record and the interface every tracking store implements."""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, NamedTuple

from runner.errors import UsageError
from runner.host import hostname
from runner.procfs import same_process_alive, start_ticks
from runner.runfiles import RunFolder

if TYPE_CHECKING:
    from runner.outputs import Artifact, MetricsReading
    from runner.runfilter import RunFilter


DEFAULT_EXPERIMENT = "Default"  # MLflow's experiment 0, where runs go when none is chosen
LOG_NAME = "output.log"  # the name under which every store keeps a run's output
_ATTACHMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_attachment_name(name: str) -> bool:
    """A file name a store may keep with a run: no separators, no leading dot, nothing to escape."""
    return _ATTACHMENT_NAME.match(name) is not None


class RunStatus(str, Enum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"  # recorded RUNNING, but its launcher is gone: it will never finish

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass
class SourceRecord:
    """Where the project's code came from, as recorded."""

    uri: str  # credentials masked
    kind: str  # local | git | archive
    path: str  # the folder the command ran in
    subdirectory: str = ""
    version: str | None = None
    commit: str | None = None
    dirty: bool | None = None
    diff_hash: str | None = None
    repo_url: str | None = None
    archive_sha256: str | None = None  # kind "archive": the archive the project was unpacked from


@dataclass
class ParameterRecord:
    """One parameter of a run, as given and as used."""

    name: str
    type: str
    given: str | None  # as the user wrote it; None when the default applied
    value: Any  # typed: float, int, bool, str (absolute path for `path`)
    rendered: str  # the text substituted into the command, before quoting
    declared: bool
    # The environment variable whose value this parameter was given (it is recorded as ***), so
    # that `proj rerun` can take the value from there again.
    secret_from: str | None = None


@dataclass
class EnvironmentRecord:
    """The environment a run used, as recorded."""

    kind: str  # local | virtualenv | conda | docker | a plugin kind's name
    key: str | None = None  # content hash of the environment's inputs
    python: str | None = None  # interpreter version inside the environment
    lock: str | None = None  # name of the attached lock file
    details: dict[str, Any] = field(default_factory=dict)
    # The kind's settings that shaped the run (installer, build_image, docker_args, ...), which
    # `proj rerun` applies again; None in records made before proj kept them.
    options: dict[str, Any] | None = None


@dataclass
class Reproduction:
    """How a run re-ran an earlier one (`proj rerun`)."""

    of: str  # the run id reproduced
    deliberate: list[str] = field(default_factory=list)  # differences asked for (-P, --version)
    # What could not be reproduced: given up with --allow-drift, or never recorded by the original.
    drift: list[str] = field(default_factory=list)


@dataclass
class JobRecord:
    """A run handed to a scheduler (a backend other than local): how to find its job again."""

    id: str  # the scheduler's job id ("123"; "123_4" for element 4 of a Slurm job array)
    state: str = ""  # the scheduler's last word on it (PENDING, RUNNING, COMPLETED, TIMEOUT, ...)
    reason: str = ""  # why it waits or why it ended, when the scheduler says
    detached: bool = False  # submitted with --detach: no proj follows it
    checkout: str | None = None  # a git checkout kept for the job, removed once it has ended


@dataclass
class LoggedModel:
    """A model the project logged with MLflow (`mlflow.<flavor>.log_model`)."""

    name: str  # MLflow 3's name, or MLflow 2's artifact path
    path: str  # where its files are among the run's artifacts
    flavors: list[str]  # python_function, sklearn, ...
    signature: dict[str, Any] | None = None  # inputs, outputs, params: lists of column/tensor specs
    files: list[str] = field(default_factory=list)  # relative to `path`
    size: int = 0  # bytes, all files
    model_id: str | None = None  # MLflow 3's logged model id (None for MLflow 2 model artifacts)
    run_id: str = ""  # the MLflow run that logged it
    mlflow_version: str | None = None


@dataclass
class ParameterConflict:
    """A parameter proj was given and the project logged with another meaning (`alpha` given as 5,
    logged as 0.5). MLflow keeps one value per name: the project's; proj's stays in `proj.parameters`."""

    name: str
    proj: str  # the value as proj was given it (the default, rendered, when none was given)
    logged: str  # the value the project logged


@dataclass
class MlflowData:
    """What the project logged with its own MLflow client, besides metrics and artifacts (those
    are read with the run's own: `TrackingStore.read_metrics`, `list_artifacts`)."""

    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    models: list[LoggedModel] = field(default_factory=list)
    conflicts: list[ParameterConflict] = field(default_factory=list)
    status: str | None = None  # the MLflow run's own status, when the project ended it itself
    problems: list[str] = field(default_factory=list)  # what could not be read, and was left out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MlflowData:
        return cls(params=dict(data.get("params") or {}), tags=dict(data.get("tags") or {}),
                   models=[LoggedModel(**m) for m in data.get("models") or []],
                   conflicts=[ParameterConflict(**c) for c in data.get("conflicts") or []],
                   status=data.get("status"), problems=list(data.get("problems") or []))


class ExperimentSummary(NamedTuple):
    """An experiment and its runs, for a list of experiments (`proj ui`)."""

    name: str
    experiment_id: str
    runs: int  # runs recorded in it, deleted ones not counted
    active: int  # of those, runs still RUNNING


@dataclass
class RunRecord:
    """Everything recorded about one run."""

    experiment: str
    run_name: str
    entry_point: str
    command: str
    source: SourceRecord
    parameters: list[ParameterRecord]
    environment: EnvironmentRecord
    user: str
    host: str
    platform: str
    python_version: str
    proj_version: str
    launcher: str  # "pid:start-ticks" of the proj process, to detect a launcher that died
    start_time: float
    backend: str = "local"
    backend_config: dict[str, Any] | None = None  # --backend-config as read; None in older records
    run_id: str = ""
    status: RunStatus = RunStatus.RUNNING
    end_time: float | None = None
    exit_code: int | None = None
    log: str | None = None  # where the output log is (a path for local stores)
    attachments: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    # Summaries of the run's metrics once it has ended: key -> last, min, max, count, last_step.
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The metrics.jsonl lines skipped, kept once the run has ended (None: not kept, read the file).
    metric_problems: list[str] | None = None
    reproduction: Reproduction | None = None
    sweep_id: str | None = None  # shared by the runs of one `--sweep`
    job: JobRecord | None = None  # set once a scheduler has accepted the run's job
    experiment_id: str | None = None  # the store's id of `experiment`, filled in by the store
    mlflow: MlflowData | None = None  # what the project logged with MLflow (runner.capture)
    parent_run_id: str | None = None  # set on a run the project started nested in this one
    child_runs: list[str] = field(default_factory=list)  # ids of those nested runs
    description: str = ""  # the user's words about the run (proj run --description, proj runs rename)
    # Deleted runs (proj runs delete) keep their status; they are listed only when asked for,
    # restorable until `proj gc` removes them. The time is None where the store does not say.
    deleted: bool = False
    deleted_time: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def parameter_values(self) -> dict[str, Any]:
        return {p.name: p.given if p.given is not None else p.rendered for p in self.parameters}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        data["duration"] = self.duration
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["source"] = SourceRecord(**data["source"])
        values["parameters"] = [ParameterRecord(**p) for p in data["parameters"]]
        values["environment"] = EnvironmentRecord(**data["environment"])
        values["status"] = RunStatus(data["status"])
        if data.get("reproduction"):
            values["reproduction"] = Reproduction(**data["reproduction"])
        if data.get("job"):
            values["job"] = JobRecord(**data["job"])
        if data.get("mlflow"):
            values["mlflow"] = MlflowData.from_dict(data["mlflow"])
        return cls(**values)


class RunQuery(NamedTuple):
    """Which runs a listing asks for, in which order, and which page."""

    experiment: str | None = None
    status: RunStatus | None = None
    parameters: tuple[tuple[str, str], ...] = ()  # name, value as given or rendered
    limit: int = 50
    offset: int = 0
    sort_metric: str | None = None  # order by this metric's last value (runs without it last)
    sort_parameter: str | None = None  # order by this parameter's value: numbers first, then text
    sort_by: str | None = None  # one of RUN_SORT_COLUMNS (runs without a value last)
    descending: bool = False
    sweep: str | None = None  # only the runs of this sweep
    sort_tag: str | None = None  # order by this tag's value, as a parameter's
    filter: RunFilter | None = None  # MLflow's search syntax, parsed (runner.runfilter)
    deleted: bool | None = False  # False: runs not deleted; True: deleted runs only; None: both
    nested: bool = True  # False: leave out the runs a project started inside another (MLflow's nested runs)


# The tag MLflow sets on a run started with `nested=True`: the id of the run it was started in.
PARENT_TAG = "mlflow.parentRunId"

# Record fields a store can order runs by (RunQuery.sort_by); without one, newest first.
RUN_SORT_COLUMNS = ("start_time", "duration", "status", "experiment", "run_name", "entry_point", "source",
                    "commit", "exit_code")


class TrackingStore(ABC):
    """Where runs are recorded. A store is chosen by the tracking URI (see runner.tracking).

    A store persists and reads; it decides nothing. Which status a run gets, and when, is
    runner.lifecycle's business; reading (`get_run`, `list_runs`, ...) never writes."""

    uri: str
    # True when any proj process can settle a run this store recorded (`set_job`, then `end_run`
    # from `proj runs refresh`): what `--detach` needs. Stores that finish only their own runs say False.
    supports_detached_runs: ClassVar[bool] = False

    @abstractmethod
    def check_writable(self) -> None:
        """Raise TrackingError now if a run could not be recorded (before anything runs)."""

    def preflight(self) -> None:
        """What `check_writable` checks, changing nothing (for --dry-run). Stores that cannot
        check without writing inherit `check_writable` itself."""
        self.check_writable()

    @abstractmethod
    def start_run(self, record: RunRecord) -> RunRecord:
        """Record a new RUNNING run; returns it with `run_id` and `log` filled in."""

    @abstractmethod
    def log_path(self, run_id: str) -> Path:
        """A local file the run's output is written to while it runs."""

    @abstractmethod
    def attach(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a file with the run (the dirty diff, the build log, the environment lock)."""

    @abstractmethod
    def end_run(self, run_id: str, status: RunStatus, exit_code: int | None, end_time: float) -> RunRecord:
        """Record the run's final status, exit code and end time, unless it has them already (the
        first ending wins); returns the record as stored."""

    def discard_run(self, run_id: str) -> None:
        """Take back a run just started whose inputs could not all be kept (nothing ran). Stores
        that cannot remove a run end it FAILED instead."""
        import time

        self.end_run(run_id, RunStatus.FAILED, None, time.time())

    @abstractmethod
    def get_run(self, ref: str) -> RunRecord:
        """The run whose id is `ref` or starts with it; RunNotFoundError otherwise."""

    @abstractmethod
    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        """Runs matching `query` (its status as recorded), newest first, `limit` at most."""

    @abstractmethod
    def read_attachment(self, run_id: str, name: str) -> bytes:
        """A file kept with the run (see `attach`), including `output.log`."""

    # --- what users change about recorded runs (runner.runmanage decides what is allowed) ----

    # True when `list_runs` honours RunQuery.filter, sort_tag and deleted (and `count_runs` counts);
    # a store without them is refused such queries rather than answering them wrongly.
    supports_search: ClassVar[bool] = False

    def count_runs(self, query: RunQuery) -> int | None:
        """How many runs match `query` whatever its page; None when the store cannot tell."""
        return None

    def sweep_ids(self, prefix: str, limit: int = 2) -> list[str] | None:
        """Up to `limit` sweep ids starting with `prefix`; None when the store cannot search them."""
        return None

    def set_deleted(self, run_id: str, deleted: bool) -> RunRecord:
        """Mark the run deleted (restorable) or not; its status stays as it is."""
        raise self._cannot("delete or restore runs")

    def set_tags(self, run_id: str, tags: Mapping[str, str], removed: Iterable[str]) -> RunRecord:
        """Set the user's tags `tags` and remove those named in `removed`."""
        raise self._cannot("tag runs")

    def describe_run(self, run_id: str, name: str | None, description: str | None) -> RunRecord:
        """Change the run's name and description (None: leave it as it is)."""
        raise self._cannot("rename runs")

    purges_runs: ClassVar[bool] = False  # True when `purge_run` works (an MLflow server has its own gc)

    def purge_run(self, run_id: str) -> None:
        """Remove a deleted run for good: its record and its files (`proj gc`)."""
        raise self._cannot("remove deleted runs")

    def _cannot(self, what: str) -> UsageError:
        return UsageError(f"The tracking store {self.uri} cannot {what}",
                          hint="its plugin does not implement it (docs/plugins.md)")

    def list_experiments(self) -> list[ExperimentSummary] | None:
        """Every experiment that holds runs, by name, with how many (deleted runs not counted);
        None when the store cannot tell without reading every run."""
        return None

    def experiment_name(self, experiment_id: str) -> str:
        """The name of the experiment with this id (`--experiment-id`); UsageError if there is none."""
        raise UsageError(f"The tracking store {self.uri} does not know experiments by id",
                         hint="choose the experiment by name (--experiment-name)")

    def run_to_continue(self, ref: str) -> RunRecord:
        """The run `--run-id` names, as `get_run`; stores refuse runs that cannot run again."""
        return self.get_run(ref)

    def continue_run(self, record: RunRecord) -> RunRecord:
        """Record `record` (an existing run's id, the new execution's fields) as RUNNING again
        (`--run-id`); parameters the run lacks are added. The caller has checked that none
        of them changes a value the run already has."""
        raise UsageError(f"The tracking store {self.uri} cannot continue runs (--run-id)")

    def set_job(self, run_id: str, job: JobRecord) -> RunRecord | None:
        """Record the run's scheduler job (its id, then each change of state). Stores that
        cannot keep it return None; the run can then only be followed attached."""
        return None

    def settle_mlflow(self, record: RunRecord) -> None:
        """At the end of the still RUNNING `record`: bring what the project logged with its own
        MLflow client into the record (runner.capture). Warnings go to `take_warnings`. Stores
        the project's MLflow client does not log into have nothing to do."""
        return None

    def save_metrics(self, run_id: str, metrics: MetricsReading) -> None:
        """Keep the run's metrics as they were when it ended (called once, before `end_run`).
        Stores that read metrics.jsonl from `output_dir` when asked need do nothing."""
        return None

    def child_environment(self, record: RunRecord) -> dict[str, str]:
        """Variables the entry point gets so its own code can find this run."""
        return {"PROJ_RUN_ID": record.run_id, "PROJ_TRACKING_URI": self.uri, "PROJ_EXPERIMENT": record.experiment}

    def output_dir(self, run_id: str) -> Path:
        """The folder the run writes its artifacts and metrics.jsonl into ($PROJ_OUTPUT_DIR).

        Stores without a local folder of their own keep it under $PROJ_HOME and send its
        contents to the server when the run ends."""
        from runner.locations import cache_dir

        return cache_dir("outputs", run_id)

    def outputs(self, run_id: str) -> RunFolder:
        """The run's output folder, reached from a folder the run cannot replace (its parent), so
        that nothing the run puts there is followed out of it (runner.runfiles)."""
        path = self.output_dir(run_id)
        return RunFolder(path.parent, (path.name,))

    def read_metrics(self, run_id: str, *, complete: bool = True) -> MetricsReading:
        """The run's metric summaries as written so far (live while it runs), read as a stream."""
        from runner.outputs import read_metrics

        return read_metrics(self.outputs(run_id), complete=complete)

    def list_artifacts(self, run_id: str) -> Iterable[Artifact]:
        """The run's artifacts in path order: regular files only, never through a link."""
        from runner.outputs import list_artifacts

        return list_artifacts(self.outputs(run_id))

    def open_artifact(self, run_id: str, relative: str) -> BinaryIO:
        """One artifact, opened for reading. FileNotFoundError when there is none; RunFileError
        (a ValueError) for a path that leaves the output folder or is not a regular file."""
        return self.outputs(run_id).open(relative)

    def open_attachment(self, run_id: str, name: str) -> BinaryIO:
        """A file kept with the run (see `read_attachment`), opened for reading. Stores that keep
        files locally stream them; the others hand over what `read_attachment` returns."""
        import io

        return io.BytesIO(self.read_attachment(run_id, name))

    def take_warnings(self) -> list[str]:
        """Things the user should know that did not stop the run (e.g. updates kept for a later
        `proj runs sync` because the server did not answer); each is returned once."""
        return []


def launcher_token(pid: int | None = None) -> str:
    """`pid:start-ticks` of a process; the start time tells a reused pid from the original."""
    import os

    pid = pid or os.getpid()
    return f"{pid}:{start_ticks(pid)}"


def launcher_alive(token: str, host: str) -> bool | None:
    """Whether the proj that launched a run still runs (a zombie does not: runner.procfs); None
    when that cannot be known here."""
    if host != hostname():
        return None
    pid_text, _, ticks = token.partition(":")
    try:
        pid, started = int(pid_text), int(ticks)
    except ValueError:
        return None
    return same_process_alive(pid, started)
