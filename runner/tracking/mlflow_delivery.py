"""Sending a run's updates to an MLflow server in order, and keeping what it does not take.

Each update is an operation (a JSON object, so that it can wait in the spool): a batch of tags
or metrics, an artifact upload, proj's parameters, the run's end. `Delivery.deliver` sends a
run's operations in order; at the first failure the rest go to the spool (runner.tracking.spool)
with their files, and `proj runs sync` (`send_spooled`) sends them later, still in order.
"""

from __future__ import annotations

from pathlib import Path

from runner.capture.conflicts import conflict_warning
from runner.errors import TrackingError
from runner.tracking import mlflow_record as mapping
from runner.tracking.base import RunStatus
from runner.tracking.mlflow_params import parameter_update
from runner.tracking.mlflow_rest import (
    JsonObject,
    MlflowApiError,
    MlflowRestClient,
    ServerUnreachable,
    as_tracking_error,
    json_object,
)
from runner.tracking.spool import Spool, SpoolEntry

STORE_KIND = "mlflow"  # the spool's name for updates meant for an MLflow server
ACTIVE = ("RUNNING", "SCHEDULED")  # MLflow's statuses of a run that has not ended

Files = dict[str, "Path | bytes"]  # what uploads send, by path among the run's artifacts


class Delivery:
    """The updates of runs recorded on the server at `uri`; warnings for the user are appended
    to `warnings` (the store's, which the run's end reports)."""

    def __init__(self, uri: str, client: MlflowRestClient, spool: Spool, warnings: list[str]) -> None:
        self.uri = uri
        self._client = client
        self._spool = spool
        self._warnings = warnings

    def send_entry(self, entry: SpoolEntry) -> None:
        """Send one spooled batch; raises TrackingError (and keeps it) when that fails."""
        files: Files = {p.relative_to(entry.files).as_posix(): p for p in entry.files.rglob("*") if p.is_file()}
        try:
            for operation in entry.operations:
                self._send(operation, files)
        except (ServerUnreachable, MlflowApiError) as err:
            raise as_tracking_error(self.uri, f"send the pending updates of run {entry.run_id}", err) from None
        self._spool.remove(entry)

    def deliver(self, run_id: str, operations: list[JsonObject], files: Files) -> JsonObject | None:
        """Send in order; spool the rest at the first failure. Returns the server's final run info."""
        if not self._flush_spooled(run_id):
            self._keep(run_id, operations, files, "earlier updates of this run are still waiting")
            return None
        result = None
        for index, operation in enumerate(operations):
            try:
                result = self._send(operation, files)
            except (ServerUnreachable, MlflowApiError) as err:
                self._keep(run_id, operations[index:], files, str(err))
                return None
            except KeyboardInterrupt:  # Ctrl-C while waiting for the server: keep the rest for later
                self._keep(run_id, operations[index:], files, "interrupted")
                return None
        return result

    def _send(self, operation: JsonObject, files: Files) -> JsonObject | None:
        kind = operation["op"]
        if kind == "log_batch":
            self._client.post("runs/log-batch", operation["body"])
        elif kind == "upload":
            self._client.put_artifact(operation["artifact"], files[operation["file"]])
        elif kind == "log_params":
            self._log_parameters(operation)
        elif kind == "terminate":
            return self._terminate(operation)
        else:
            raise TrackingError(f"Unknown spooled operation {kind!r}", hint="it was written by a newer proj")
        return None

    def _log_parameters(self, operation: JsonObject) -> None:
        """proj's parameters the project did not log itself; its own values stand (mlflow_params)."""
        run_id = operation["run_id"]
        data = self._client.get("runs/get", run_id=run_id)["run"].get("data", {})
        update = parameter_update(operation["parameters"], {p["key"]: p["value"] for p in data.get("params", [])})
        for batch in mapping.batches(update.params, update.tags):
            self._client.post("runs/log-batch", {"run_id": run_id, **batch})
        self._warnings += [conflict_warning(run_id, conflict, f"the tag {mapping.CONFLICT_TAG}{conflict.name}")
                           for conflict in update.conflicts]

    def _terminate(self, operation: JsonObject) -> JsonObject:
        """The final status and end time, unless the run already has them (MLflow's own rule).
        MLflow has no LOST: such a run is FAILED there, with the tag proj.status=LOST."""
        run_id = operation["run_id"]
        info = json_object(self._client.get("runs/get", run_id=run_id), "run", "info")
        if info.get("status") in ACTIVE:
            status, tags = mapping.mlflow_status(RunStatus(operation["status"]))
            body = {"run_id": run_id, "status": status, "end_time": operation["end_time"]}
            info = json_object(self._client.post("runs/update", body), "run_info")
            if tags:
                self._client.post("runs/log-batch", {"run_id": run_id, "tags": mapping.tag_items(tags)})
        return info

    def _flush_spooled(self, run_id: str) -> bool:
        """Send what this run already has in the spool; True when nothing is left there."""
        if not self._spool.has_run(run_id):
            return True
        with self._spool.sending():
            for entry in self._spool.entries(uri=self.uri, run_id=run_id):
                try:
                    self.send_entry(entry)
                except TrackingError:
                    return False
        return True

    def _keep(self, run_id: str, operations: list[JsonObject], files: Files, reason: str) -> None:
        names = {op["file"] for op in operations if op["op"] == "upload"}
        entry = self._spool.add(store=STORE_KIND, uri=self.uri, run_id=run_id, operations=operations,
                               files={name: files[name] for name in names})
        self._warnings.append(
            f"the MLflow server at {self.uri} did not take updates of run {run_id} ({reason}); "
            f"they are kept in {entry.path.parent} — send them with `proj runs sync`")


def send_spooled(uri: str | None = None) -> tuple[list[SpoolEntry], list[tuple[SpoolEntry, str]]]:
    """Send everything waiting in the spool (or only what is meant for `uri`), oldest first.

    Returns the entries sent and those still waiting with the reason. After the first failure
    for a server, its later entries wait too, so a run's updates always arrive in order.
    """
    spool = Spool()
    sent: list[SpoolEntry] = []
    waiting: list[tuple[SpoolEntry, str]] = []
    deliveries: dict[str, Delivery] = {}
    failed: dict[str, str] = {}
    with spool.sending():
        for entry in spool.entries(uri=uri.rstrip("/") if uri else None):
            if entry.store != STORE_KIND:
                waiting.append((entry, f"written by a {entry.store!r} store, which this proj cannot send"))
            elif entry.uri in failed:
                waiting.append((entry, failed[entry.uri]))
            else:
                try:
                    if entry.uri not in deliveries:
                        deliveries[entry.uri] = Delivery(entry.uri, MlflowRestClient(entry.uri), spool, [])
                    deliveries[entry.uri].send_entry(entry)
                    sent.append(entry)
                except TrackingError as err:
                    failed[entry.uri] = err.message
                    waiting.append((entry, err.message))
    return sent, waiting


def upload_op(artifact_root: str, relative: str) -> JsonObject:
    return {"op": "upload", "artifact": f"{artifact_root}/{relative}", "file": relative}


def terminate_op(run_id: str, status: RunStatus, end_time: float) -> JsonObject:
    return {"op": "terminate", "run_id": run_id, "status": status.value, "end_time": int(end_time * 1000)}


def tags_op(run_id: str, tags: dict[str, str]) -> JsonObject:
    return {"op": "log_batch", "body": {"run_id": run_id, "tags": mapping.tag_items(tags)}}
