"""Recording runs on an MLflow tracking server (`http://` and `https://` tracking URIs).

proj talks to the server's REST API itself (runner.tracking.mlflow_rest), so projects need no
`mlflow` package in proj's environment, while their own `mlflow.log_metric(...)` calls land in
the same run through MLFLOW_RUN_ID. What is written where is in runner.tracking.mlflow_record;
reading runs back is runner.tracking.mlflow_read.

While a run runs, its log and output folder are local files under $PROJ_HOME; when it ends they
are uploaded (the log and proj's own files under `proj/` among the artifacts, the output folder
as the run's artifacts, metrics.jsonl as MLflow metrics) and the local copies removed.

Once the command runs, a server that stops answering must not cost the run: what cannot be
sent goes to the local spool and `proj runs sync` sends it later, in order
(runner.tracking.mlflow_delivery). Before the command runs, a server that does not answer is an
error (exit 126), so nothing runs unrecorded.
"""

from __future__ import annotations

import io
import shutil
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar

from runner.errors import RunNotFoundError, TrackingError, UsageError
from runner.locations import proj_home
from runner.outputs import METRICS_FILE, Artifact, MetricsReading
from runner.runfiles import NotAFileError, is_regular_file
from runner.tracking import mlflow_record as mapping
from runner.tracking.base import LOG_NAME, RunQuery, RunRecord, RunStatus, TrackingStore, is_attachment_name
from runner.tracking.mlflow_delivery import ACTIVE, Delivery, Files, tags_op, terminate_op, upload_op
from runner.tracking.mlflow_read import RUN_REF, MlflowReader
from runner.tracking.mlflow_rest import (
    JsonObject,
    MlflowApiError,
    MlflowRestClient,
    ServerUnreachable,
    as_tracking_error,
    json_text,
)
from runner.tracking.spool import Spool

P = ParamSpec("P")
T = TypeVar("T")

@dataclass
class _StartedRun:
    """What this process knows about a run it started."""

    record: RunRecord
    experiment_id: str
    artifact_root: str | None  # None: the server does not proxy artifacts; files stay on this machine
    attachments: list[str] = field(default_factory=list)
    final_metrics: MetricsReading | None = None  # metrics.jsonl as read when the run ended


class MlflowStore(TrackingStore):
    def __init__(self, uri: str, *, spool: Spool | None = None) -> None:
        parts = urllib.parse.urlsplit(uri)
        if parts.username or parts.password:
            raise UsageError(
                f"The tracking URI {_without_userinfo(parts)!r} contains credentials",
                hint="remove them from the URI and set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME "
                     "and MLFLOW_TRACKING_PASSWORD")
        self.uri = uri.rstrip("/")
        self.client = MlflowRestClient(self.uri)
        self.spool = spool or Spool()
        self.reader = MlflowReader(self.uri, self.client, self.spool)
        self._started: dict[str, _StartedRun] = {}
        self._warnings: list[str] = []
        self.delivery = Delivery(self.uri, self.client, self.spool, self._warnings)

    # --- before the run --------------------------------------------------------------------

    def check_writable(self) -> None:
        quick = MlflowRestClient(self.uri, replace(self.client.policy, retries=min(self.client.policy.retries, 2)))
        self._checked("record runs", quick.get, "experiments/search", max_results=1)

    def start_run(self, record: RunRecord) -> RunRecord:
        experiment_id = self._experiment_id(record.experiment)
        body = {"experiment_id": experiment_id, "run_name": record.run_name, "user_id": record.user,
                "start_time": _ms(record.start_time), "tags": mapping.tag_items(mapping.mlflow_tags(record))}
        # Not retried after a timeout: the server may have created the run, and a retry a second.
        created = self._checked("create the run", self.client.post, "runs/create", body, idempotent=False)
        info = created["run"]["info"]
        record.run_id = info["run_id"]
        record.experiment_id = experiment_id
        run = _StartedRun(record, experiment_id, mapping.artifact_root(info))
        _staging_dir(record.run_id).mkdir(parents=True, mode=0o700)
        self.log_path(record.run_id).touch(mode=0o600)
        tags = mapping.proj_tags(record)
        record.log = self._log_location(run, info, tags)
        self._started[record.run_id] = run
        try:
            # Parameters wait for the run's end: the project may log them itself (runner.tracking.mlflow_params).
            for batch in mapping.batches({}, tags):
                self.client.post("runs/log-batch", {"run_id": record.run_id, **batch})
        except (ServerUnreachable, MlflowApiError) as err:
            self._abandon(run)
            raise as_tracking_error(self.uri, "record the run's parameters and tags", err) from None
        return record

    def _log_location(self, run: _StartedRun, info: JsonObject, tags: dict[str, str]) -> str | None:
        """Where the run's log is kept: among its artifacts when the server has an artifact store,
        else on this machine, named by a tag so that other machines know where it is."""
        if run.artifact_root is None:
            tags["proj.log"] = str(self.log_path(run.record.run_id))
            return tags["proj.log"]
        return mapping.artifact_location(info, f"{mapping.PROJ_FOLDER}/{LOG_NAME}")

    def continue_run(self, record: RunRecord) -> RunRecord:
        """As `mlflow.start_run(run_id=...)` resumes a run: RUNNING again, its end time kept until
        it ends, with this execution's tags; parameters it lacks are added at its end."""
        info = self.reader.raw_run(record.run_id)["info"]
        run = _StartedRun(record, info["experiment_id"], mapping.artifact_root(info))
        record.experiment_id = run.experiment_id
        staging = _staging_dir(record.run_id)
        staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._keep_earlier_output(record.run_id)  # the log keeps it all
        tags = {**mapping.mlflow_tags(record), **mapping.proj_tags(record)}
        tags.pop("mlflow.user")  # who started the run stays its user
        tags[mapping.STATUS_TAG] = RunStatus.RUNNING.value  # no longer LOST, if it was
        record.log = self._log_location(run, info, tags)
        self._started[record.run_id] = run
        try:
            # Parameters it lacks are logged when it ends, as for a new run (runner.tracking.mlflow_params).
            for batch in mapping.batches({}, tags):
                self.client.post("runs/log-batch", {"run_id": record.run_id, **batch})
            self.client.post("runs/update", {"run_id": record.run_id, "status": "RUNNING",
                                             "run_name": record.run_name})
        except (ServerUnreachable, MlflowApiError) as err:
            self._started.pop(record.run_id, None)  # someone else's run: left as it was, not failed
            raise as_tracking_error(self.uri, f"continue run {record.run_id}", err) from None
        return record

    # --- what users change (runner.runmanage) ------------------------------------------------

    supports_search = True

    def count_runs(self, query: RunQuery) -> int:
        return self.reader.count_runs(query)

    def sweep_ids(self, prefix: str, limit: int = 2) -> list[str]:
        return self.reader.sweep_ids(prefix, limit)

    def set_deleted(self, run_id: str, deleted: bool) -> RunRecord:
        endpoint = "runs/delete" if deleted else "runs/restore"
        self._checked(f"{'delete' if deleted else 'restore'} run {run_id}", self.client.post, endpoint,
                      {"run_id": run_id})
        return self.reader.get_run(run_id)

    def set_tags(self, run_id: str, tags: Mapping[str, str], removed: Iterable[str]) -> RunRecord:
        if tags:
            self._checked(f"tag run {run_id}", self.client.post, "runs/log-batch",
                          {"run_id": run_id, "tags": mapping.tag_items(dict(tags))})
        for key in removed:
            self._checked(f"remove tag {key!r} of run {run_id}", self.client.post, "runs/delete-tag",
                          {"run_id": run_id, "key": key})
        return self.reader.get_run(run_id)

    def describe_run(self, run_id: str, name: str | None, description: str | None) -> RunRecord:
        if name is not None:  # the server keeps the mlflow.runName tag in step
            self._checked(f"rename run {run_id}", self.client.post, "runs/update", {"run_id": run_id, "run_name": name})
        if description is not None:
            self._checked(f"describe run {run_id}", self.client.post, "runs/set-tag",
                          {"run_id": run_id, "key": mapping.DESCRIPTION_TAG, "value": description})
        return self.reader.get_run(run_id)

    def purge_run(self, run_id: str) -> None:
        raise UsageError(f"Deleted runs on an MLflow server are removed by the server's own `mlflow gc` ({self.uri})",
                         hint="run `mlflow gc --backend-store-uri ...` where the server's database is")

    def run_to_continue(self, ref: str) -> RunRecord:
        record = self.get_run(ref)  # a prefix is resolved here
        if record.deleted:
            raise UsageError(f"Run {record.run_id} is deleted on {self.uri}; it cannot be continued",
                             hint=f"restore it first (proj runs restore {record.run_id[:12]}), or leave out "
                                  "--run-id to start a new run")
        return record

    def _keep_earlier_output(self, run_id: str) -> None:
        """The run's log so far, copied into the log this execution appends to; streamed, as a
        log may be gigabytes. A log staged here already is that log (not sent yet)."""
        target = self.log_path(run_id)
        if is_regular_file(target):
            return
        target.unlink(missing_ok=True)  # anything else there is never written through
        try:
            earlier = self.reader.open_attachment(run_id, LOG_NAME, _staging_dir(run_id))  # before `target` exists
        except RunNotFoundError:
            earlier = io.BytesIO()  # a run started by something else than proj has no log yet
        with earlier, target.open("wb") as kept:
            shutil.copyfileobj(earlier, kept, 1024 * 1024)

    def experiment_name(self, experiment_id: str) -> str:
        try:
            found = self.client.get("experiments/get", experiment_id=experiment_id)["experiment"]
        except MlflowApiError as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise UsageError(f"No experiment with id {experiment_id!r} on {self.uri}",
                                 hint="choose an existing experiment, or one by name (--experiment-name)") from None
            raise as_tracking_error(self.uri, "look up the experiment", err) from None
        except ServerUnreachable as err:
            raise as_tracking_error(self.uri, "look up the experiment", err) from None
        if found.get("lifecycle_stage") == "deleted":
            raise UsageError(f"The experiment {experiment_id} ({found['name']!r}) is deleted on {self.uri}",
                             hint="restore it in MLflow, or choose another experiment")
        return str(found["name"])

    def log_path(self, run_id: str) -> Path:
        return _staging_dir(run_id) / LOG_NAME

    def output_dir(self, run_id: str) -> Path:
        path = _outputs_dir(run_id)
        if run_id in self._started:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def attach(self, run_id: str, name: str, data: bytes) -> None:
        if not is_attachment_name(name):
            raise ValueError(f"invalid attachment name {name!r}")
        run = self._run(run_id)
        run.attachments.append(name)
        tags = {"proj.attachments": ",".join(run.attachments)}
        if run.artifact_root is None:
            (_staging_dir(run_id) / name).write_bytes(data)
            self.delivery.deliver(run_id, [tags_op(run_id, tags)], {})
            return
        relative = f"{mapping.PROJ_FOLDER}/{name}"
        self.delivery.deliver(run_id, [upload_op(run.artifact_root, relative), tags_op(run_id, tags)], {relative: data})

    def discard_run(self, run_id: str) -> None:
        self._abandon(self._run(run_id))  # the server keeps it, FAILED, as MLflow keeps every run

    def child_environment(self, record: RunRecord) -> dict[str, str]:
        # `mlflow.start_run()` in the project resumes the run these three name.
        env = super().child_environment(record)
        env.update(MLFLOW_RUN_ID=record.run_id, MLFLOW_TRACKING_URI=self.uri,
                   MLFLOW_EXPERIMENT_ID=self._run(record.run_id).experiment_id)
        return env

    # --- after the run ---------------------------------------------------------------------

    def save_metrics(self, run_id: str, metrics: MetricsReading) -> None:
        """Kept for `end_run`, which sends every point after the run's files."""
        run = self._started.get(run_id)
        if run is None:
            return  # a run another proj started: its files are where that proj left them
        run.final_metrics = metrics
        run.record.metrics = {key: s.as_dict() for key, s in metrics.summaries().items()}

    def end_run(self, run_id: str, status: RunStatus, exit_code: int | None, end_time: float) -> RunRecord:
        run = self._started.get(run_id)
        if run is None:
            return self._end_elsewhere(run_id, status, end_time)
        record = run.record
        record.exit_code = exit_code
        uploads, files = self._final_uploads(run)
        parameters = {"op": "log_params", "run_id": run_id, "parameters": mapping.parameter_rows(record.parameters)}
        operations = [parameters, *uploads]
        operations += self._metric_operations(run, end_time)
        if exit_code is not None:
            operations.append(tags_op(run_id, {"proj.exit_code": str(exit_code)}))
        operations.append(terminate_op(run_id, status, end_time))
        server_info = self.delivery.deliver(run_id, operations, files)
        if server_info is not None and server_info.get("status") not in ACTIVE:
            # What the server holds: the first ending wins, which may be one the project's own code
            # wrote (`mlflow.end_run("KILLED")`).
            record.status = mapping.record_from_run({"info": server_info}, record.experiment).status
            record.end_time = int(server_info.get("end_time") or _ms(end_time)) / 1000
        else:  # kept in the spool: this is what the server will hold once it is sent
            record.status, record.end_time = status, end_time
        if run.artifact_root is not None:  # everything is on the server now, or in the spool
            shutil.rmtree(_staging_dir(run_id), ignore_errors=True)
            shutil.rmtree(_outputs_dir(run_id), ignore_errors=True)
        return record

    def _end_elsewhere(self, run_id: str, status: RunStatus, end_time: float) -> RunRecord:
        """End a run another proj started (one that died: LOST); updates it left in the spool go first."""
        self.delivery.deliver(run_id, [terminate_op(run_id, status, end_time)], {})
        return self.reader.get_run(run_id)

    def _metric_operations(self, run: _StartedRun, end_time: float) -> list[JsonObject]:
        if run.final_metrics is None:  # the lifecycle saves them first; read them here otherwise
            self.save_metrics(run.record.run_id, super().read_metrics(run.record.run_id))
        assert run.final_metrics is not None
        points = list(run.final_metrics.points())
        metric_batches, refused = mapping.metric_batches(run.record.run_id, points, end_time)
        if refused:
            many = len(refused) > 1
            self._warnings.append(f"MLflow does not accept the metric name{'s' if many else ''} "
                                  f"{', '.join(map(repr, refused))}; {'they are' if many else 'it is'} "
                                  f"kept only in {METRICS_FILE} among the run's artifacts")
        return [{"op": "log_batch", "body": body} for body in metric_batches]

    def _final_uploads(self, run: _StartedRun) -> tuple[list[JsonObject], Files]:
        """Uploads of the log and of every file in the output folder (none without a proxy)."""
        if run.artifact_root is None:
            return [], {}
        files: Files = {}
        log = self.log_path(run.record.run_id)
        if is_regular_file(log):  # a run that replaced its log with a link has its link left behind
            files[f"{mapping.PROJ_FOLDER}/{LOG_NAME}"] = log
        elif log.is_symlink():
            self._warnings.append(f"the run replaced its log ({log}) with a symlink; the log was not uploaded")
        outputs = _outputs_dir(run.record.run_id)
        for artifact in super().list_artifacts(run.record.run_id) if outputs.is_dir() else []:
            files[artifact.path] = outputs / artifact.path
        return [upload_op(run.artifact_root, relative) for relative in files], files

    def take_warnings(self) -> list[str]:
        warnings = list(self._warnings)
        self._warnings.clear()  # in place: the delivery appends to this same list
        return warnings

    # --- reading ---------------------------------------------------------------------------

    def get_run(self, ref: str) -> RunRecord:
        return self.reader.get_run(ref)

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        return self.reader.list_runs(query)

    def read_attachment(self, run_id: str, name: str) -> bytes:
        if not is_attachment_name(name):
            raise ValueError(f"invalid attachment name {name!r}")
        return self.reader.read_attachment(run_id, name, _staging_dir(run_id))

    def open_attachment(self, run_id: str, name: str) -> BinaryIO:
        if not is_attachment_name(name):
            raise ValueError(f"invalid attachment name {name!r}")
        return self.reader.open_attachment(run_id, name, _staging_dir(run_id))

    def read_metrics(self, run_id: str, *, complete: bool = True) -> MetricsReading:
        started = self._started.get(run_id)
        if started is not None and started.final_metrics is not None:
            return started.final_metrics
        if _outputs_dir(run_id).is_dir():  # running on this machine, or kept here (no artifact proxy)
            return super().read_metrics(run_id, complete=complete)
        return MetricsReading.of_points(self.reader.metric_points(run_id))

    def list_artifacts(self, run_id: str) -> Iterable[Artifact]:
        if _outputs_dir(run_id).is_dir():
            return super().list_artifacts(run_id)
        return self.reader.list_artifacts(run_id)

    def open_artifact(self, run_id: str, relative: str) -> BinaryIO:
        if _outputs_dir(run_id).is_dir():
            return super().open_artifact(run_id, relative)
        path = self.reader.artifact_path(run_id, relative)  # downloaded into proj's own cache
        if path.is_dir():
            raise NotAFileError(relative, "a folder")
        return path.open("rb")

    # --- helpers ---------------------------------------------------------------------------

    def _run(self, run_id: str) -> _StartedRun:
        try:
            return self._started[run_id]
        except KeyError:
            raise TrackingError(f"Run {run_id} was not started by this proj process; it cannot be changed") from None

    def _abandon(self, run: _StartedRun) -> None:
        """A run that cannot be recorded fully never runs; mark it failed if the server listens."""
        self._started.pop(run.record.run_id, None)
        shutil.rmtree(_staging_dir(run.record.run_id), ignore_errors=True)
        try:
            self.client.post("runs/update", {"run_id": run.record.run_id, "status": "FAILED",
                                             "end_time": _ms(run.record.start_time)})
        except (ServerUnreachable, MlflowApiError):
            pass

    def _experiment_id(self, name: str) -> str:
        """The experiment's id, creating it if needed; safe when several runs create it at once."""
        found = self.reader.find_experiment(name)
        if found is None:
            try:
                return json_text(self.client.post("experiments/create", {"name": name}, idempotent=False),
                                 "experiment_id")
            except MlflowApiError as err:
                if err.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise as_tracking_error(self.uri, f"create the experiment {name!r}", err) from None
            except ServerUnreachable as err:
                raise as_tracking_error(self.uri, f"create the experiment {name!r}", err) from None
            found = self.reader.find_experiment(name)  # another process created it just now
            if found is None:
                raise TrackingError(f"The experiment {name!r} exists on {self.uri} but cannot be read")
        if found.get("lifecycle_stage") == "deleted":
            raise TrackingError(f"The experiment {name!r} is deleted on {self.uri}",
                                hint="restore it in MLflow, or choose another name with --experiment-name")
        return json_text(found, "experiment_id")

    def _checked(self, doing: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except (ServerUnreachable, MlflowApiError) as err:
            raise as_tracking_error(self.uri, doing, err) from None


def _staging_dir(run_id: str) -> Path:
    if not RUN_REF.match(run_id):
        raise RunNotFoundError(f"{run_id!r} is not a run id")
    return proj_home() / "mlflow" / "runs" / run_id


def _outputs_dir(run_id: str) -> Path:
    if not RUN_REF.match(run_id):
        raise RunNotFoundError(f"{run_id!r} is not a run id")
    return proj_home() / "outputs" / run_id  # where the base class puts it for server stores


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _without_userinfo(parts: urllib.parse.SplitResult) -> str:
    return parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else "")).geturl()
