"""How a proj run record maps onto an MLflow run: tags, parameters, and back.

MLflow's own project tags (`mlflow.*`) come first, so the MLflow UI shows a proj run exactly as
it shows one started by `mlflow run`. Everything else proj records goes into `proj.*` tags, so
that `proj runs show` can rebuild the whole record from the server. Pure functions only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from runner.outputs import MetricPoint
from runner.tracking.base import (
    EnvironmentRecord,
    MlflowData,
    ParameterConflict,
    ParameterRecord,
    Reproduction,
    RunRecord,
    RunStatus,
    SourceRecord,
)
from runner.tracking.mlflow_rest import JsonObject

# MLflow's limits (mlflow/utils/validation.py in 3.x). Longer values are cut here rather than
# left to the server, which either cuts or rejects them depending on its configuration.
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
MAX_METRICS_PER_BATCH = 1000
PROJ_FOLDER = "proj"  # proj's own files among a run's artifacts: proj/output.log, proj/diff.patch, ...
PARENT_TAG = "mlflow.parentRunId"  # set by MLflow on a run started with nested=True
CONFLICT_TAG = "proj.param."  # proj's value of a parameter the project logged with another meaning
DESCRIPTION_TAG = "mlflow.note.content"  # where the MLflow UI keeps a run's description
_METRIC_NAME = re.compile(r"^[/\w.\- :]*$")  # mlflow/utils/validation.py, off Windows

_STATUSES = {"RUNNING": RunStatus.RUNNING, "SCHEDULED": RunStatus.RUNNING, "FINISHED": RunStatus.FINISHED,
             "FAILED": RunStatus.FAILED, "KILLED": RunStatus.KILLED}
STATUS_TAG = "proj.status"  # set to LOST on a run MLflow holds as FAILED (MLflow has no LOST)
# proj's record fields kept one per tag, by tag name.
_SOURCE_TAGS = {"proj.source_uri": "uri", "proj.source_kind": "kind", "proj.source_path": "path",
                "proj.source_subdirectory": "subdirectory", "proj.source_version": "version",
                "proj.diff_hash": "diff_hash", "proj.archive_sha256": "archive_sha256"}
_RECORD_TAGS = {"proj.version": "proj_version", "proj.command": "command", "proj.host": "host",
                "proj.platform": "platform", "proj.python_version": "python_version", "proj.launcher": "launcher"}


# The mlflow.* tags proj sets itself (mlflow_tags): not the project's.
_OWN_MLFLOW_TAGS = frozenset({
    "mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.project.entryPoint", "mlflow.project.env",
    "mlflow.project.backend", "mlflow.runName", "mlflow.source.git.commit", "mlflow.source.git.repoURL",
    "mlflow.docker.image.uri", "mlflow.docker.image.id", DESCRIPTION_TAG})


def mlflow_tags(record: RunRecord) -> dict[str, str]:
    """The tags `mlflow run` sets on a project run (mlflow/projects/utils.py `_create_run`)."""
    source, details = record.source, record.environment.details
    tags = {
        "mlflow.user": record.user,
        "mlflow.source.name": _source_name(source),
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": record.entry_point,
        "mlflow.project.env": record.environment.kind,
        "mlflow.project.backend": record.backend,
        "mlflow.runName": record.run_name,
    }
    if source.commit:
        tags["mlflow.source.git.commit"] = source.commit
    if source.repo_url:
        tags["mlflow.source.git.repoURL"] = source.repo_url
    if record.description:
        tags[DESCRIPTION_TAG] = record.description
    image_uri = details.get("image_uri") or details.get("image")
    image_id = details.get("image_id") or details.get("image_digest")
    if image_uri:
        tags["mlflow.docker.image.uri"] = str(image_uri)
    if image_id:
        tags["mlflow.docker.image.id"] = str(image_id)
    return {key: _clip(value, MAX_TAG_VALUE) for key, value in tags.items()}


def proj_tags(record: RunRecord) -> dict[str, str]:
    """proj's reproducibility data, and the user's own tags."""
    source, env = record.source, record.environment
    tags: dict[str, Any] = {tag: getattr(source, field) for tag, field in _SOURCE_TAGS.items()}
    tags.update({tag: getattr(record, field) for tag, field in _RECORD_TAGS.items()})
    if source.dirty is not None:
        tags["proj.dirty"] = "true" if source.dirty else "false"
    tags["proj.environment_key"] = env.key
    tags["proj.environment_python"] = env.python
    tags["proj.environment_lock"] = env.lock
    tags["proj.environment_details"] = _compact_json(env.details) if env.details else None
    tags["proj.environment_options"] = _compact_json(env.options) if env.options is not None else None
    tags["proj.backend_config"] = _compact_json(record.backend_config) if record.backend_config is not None else None
    tags["proj.parameters"] = _compact_json(parameter_rows(record.parameters))
    tags["proj.sweep_id"] = record.sweep_id
    if record.reproduction is not None:
        tags["proj.reproduction"] = _compact_json(dataclasses.asdict(record.reproduction))
    tags.update(record.tags)
    return {key: _clip(str(value), MAX_TAG_VALUE) for key, value in tags.items() if value not in (None, "")}


def mlflow_params(parameters: list[ParameterRecord]) -> dict[str, str]:
    """Parameter values as given (or the default, rendered), as `mlflow run` logs them."""
    return {p.name: _clip(p.given if p.given is not None else p.rendered, MAX_PARAM_VALUE) for p in parameters}


def batches(params: dict[str, str], tags: dict[str, str]) -> Iterator[dict[str, list[dict[str, str]]]]:
    """log-batch bodies within MLflow's limit of 100 parameters and 100 tags per call."""
    param_items = [{"key": k, "value": v} for k, v in params.items()]
    tag_items = [{"key": k, "value": v} for k, v in tags.items()]
    step = MAX_PARAMS_TAGS_PER_BATCH
    for start in range(0, max(len(param_items), len(tag_items)), step):
        yield {"params": param_items[start:start + step], "tags": tag_items[start:start + step]}


def tag_items(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": _clip(v, MAX_TAG_VALUE)} for k, v in tags.items()]


def metric_batches(run_id: str, points: list[MetricPoint], default_time: float
                   ) -> tuple[list[JsonObject], list[str]]:
    """log-batch bodies for the points of metrics.jsonl, and the names MLflow would refuse."""
    refused = sorted({p.key for p in points if not valid_metric_name(p.key)})
    items = [{"key": p.key, "value": _metric_value(p.value), "step": p.step or 0,
              "timestamp": int((p.timestamp if p.timestamp is not None else default_time) * 1000)}
             for p in points if p.key not in refused]
    step = MAX_METRICS_PER_BATCH
    return [{"run_id": run_id, "metrics": items[i:i + step]} for i in range(0, len(items), step)], refused


def valid_metric_name(key: str) -> bool:
    normal = posixpath.normpath(key)
    return (len(key) <= MAX_KEY and bool(_METRIC_NAME.match(key)) and normal == key and normal != "."
            and not normal.startswith(("..", "/")))


def metric_points(history: list[JsonObject]) -> list[MetricPoint]:
    """`metrics/get-history` entries as proj's metric points."""
    return [MetricPoint(m["key"], float(m["value"]), int(m.get("step", 0)), int(m.get("timestamp", 0)) / 1000)
            for m in history]


def latest_metrics(data: JsonObject) -> dict[str, dict[str, Any]]:
    """What `runs/search` tells of metrics: the last value only (min, max and count unknown)."""
    return {m["key"]: {"last": float(m["value"]), "min": None, "max": None, "count": None,
                       "last_step": int(m.get("step", 0))} for m in data.get("metrics", [])}


def _metric_value(value: float) -> float | str:
    # MLflow's JSON parser takes non-finite numbers only as these strings (a bare NaN is misread).
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def mlflow_status(status: RunStatus) -> tuple[str, dict[str, str]]:
    """The status MLflow holds for a run proj ends with `status`, and the tags that go with it."""
    if status is RunStatus.LOST:
        return RunStatus.FAILED.value, {STATUS_TAG: RunStatus.LOST.value}
    return status.value, {}


def run_status(info: JsonObject, tags: dict[str, str]) -> RunStatus:
    """proj's status of an MLflow run (anything MLflow does not know counts as FAILED)."""
    status = _STATUSES.get(str(info.get("status", "")), RunStatus.FAILED)
    if status is RunStatus.FAILED and tags.get(STATUS_TAG) == RunStatus.LOST.value:
        return RunStatus.LOST
    return status


def record_from_run(run: JsonObject, experiment: str) -> RunRecord:
    """Rebuild proj's record from a `runs/get` or `runs/search` run."""
    info, data = run["info"], run.get("data", {})
    tags = {t["key"]: t["value"] for t in data.get("tags", [])}
    params = {p["key"]: p["value"] for p in data.get("params", [])}
    end_time = info.get("end_time")
    exit_code = tags.get("proj.exit_code")
    return RunRecord(
        experiment=experiment,
        run_name=info.get("run_name") or tags.get("mlflow.runName", ""),
        entry_point=tags.get("mlflow.project.entryPoint", ""),
        command=tags.get("proj.command", ""),
        source=_source_from(tags),
        parameters=_parameters_from(tags, params),
        environment=_environment_from(tags),
        user=tags.get("mlflow.user", info.get("user_id", "")),
        **{field: tags.get(tag, "") for tag, field in _RECORD_TAGS.items() if field != "command"},
        start_time=int(info.get("start_time", 0)) / 1000,
        backend=tags.get("mlflow.project.backend", "local"),
        backend_config=_json_mapping(tags.get("proj.backend_config")),
        run_id=info["run_id"],
        status=run_status(info, tags),
        end_time=int(end_time) / 1000 if end_time else None,
        exit_code=int(exit_code) if exit_code and exit_code.lstrip("-").isdigit() else None,
        log=tags.get("proj.log") or artifact_location(info, f"{PROJ_FOLDER}/output.log"),
        attachments=[name for name in tags.get("proj.attachments", "").split(",") if name],
        tags={k: v for k, v in tags.items() if not k.startswith(("mlflow.", "proj."))},
        metrics=latest_metrics(data),
        reproduction=_reproduction_from(tags),
        sweep_id=tags.get("proj.sweep_id"),
        experiment_id=info.get("experiment_id"),
        mlflow=_logged_from(tags, params),
        parent_run_id=tags.get(PARENT_TAG),
        description=tags.get(DESCRIPTION_TAG, ""),
        deleted=info.get("lifecycle_stage") == "deleted",
    )


def _logged_from(tags: dict[str, str], params: dict[str, str]) -> MlflowData:
    """What the MLflow run shows besides proj's own tags: every parameter (the project's, and
    proj's logged at the end), the tags proj did not set, and the values proj kept aside."""
    own = _OWN_MLFLOW_TAGS
    conflicts = [ParameterConflict(key[len(CONFLICT_TAG):], value, params.get(key[len(CONFLICT_TAG):], ""))
                 for key, value in tags.items() if key.startswith(CONFLICT_TAG)]
    return MlflowData(params=params, tags={k: v for k, v in tags.items() if not k.startswith("proj.") and k not in own},
                      conflicts=conflicts)


def artifact_root(info: JsonObject) -> str | None:
    """`<experiment>/<run>/artifacts` when the run's artifacts go through the server's proxy."""
    uri = str(info.get("artifact_uri", ""))
    if not uri.startswith("mlflow-artifacts:"):
        return None  # stored elsewhere (a path or a bucket the client would write to itself)
    rest = uri[len("mlflow-artifacts:"):]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/path
        rest = "/" + rest[2:].partition("/")[2]
    return rest.strip("/")


def artifact_location(info: JsonObject, name: str) -> str | None:
    uri = info.get("artifact_uri")
    return f"{uri.rstrip('/')}/{name}" if uri else None


def _source_name(source: SourceRecord) -> str:
    # `mlflow run` names a local folder by its remote's URL when it has one, else by its path.
    if source.kind == "local":
        return source.repo_url or source.path
    return source.uri


def _source_from(tags: dict[str, str]) -> SourceRecord:
    values = {field: tags.get(tag) for tag, field in _SOURCE_TAGS.items()}
    dirty = tags.get("proj.dirty")
    return SourceRecord(
        uri=values.pop("uri") or tags.get("mlflow.source.name", ""),
        kind=values.pop("kind") or "local",
        path=values.pop("path") or "",
        subdirectory=values.pop("subdirectory") or "",
        commit=tags.get("mlflow.source.git.commit"),
        dirty=None if dirty is None else dirty == "true",
        repo_url=tags.get("mlflow.source.git.repoURL"),
        **values,
    )


def _environment_from(tags: dict[str, str]) -> EnvironmentRecord:
    details = _load_json(tags.get("proj.environment_details"), {})
    return EnvironmentRecord(kind=tags.get("mlflow.project.env", "local"), key=tags.get("proj.environment_key"),
                             python=tags.get("proj.environment_python"), lock=tags.get("proj.environment_lock"),
                             details=details if isinstance(details, dict) else {},
                             options=_json_mapping(tags.get("proj.environment_options")))


def _json_mapping(text: str | None) -> dict[str, Any] | None:
    """A JSON object kept in a tag; None when the tag is missing (an older record) or damaged."""
    data = _load_json(text, None)
    return data if isinstance(data, dict) else None


def _reproduction_from(tags: dict[str, str]) -> Reproduction | None:
    data = _load_json(tags.get("proj.reproduction"), None)
    return Reproduction(**data) if isinstance(data, dict) and "of" in data else None


def parameter_rows(parameters: list[ParameterRecord]) -> list[list[Any]]:
    """The parameters as JSON rows: the `proj.parameters` tag, and a spooled update's parameters."""
    return [[p.name, p.type, p.given, p.value, p.rendered, p.declared] for p in parameters]


def _parameters_from(tags: dict[str, str], params: dict[str, str]) -> list[ParameterRecord]:
    rows = _load_json(tags.get("proj.parameters"), None)
    if isinstance(rows, list) and all(isinstance(r, list) and len(r) == 6 for r in rows):
        return [ParameterRecord(*row) for row in rows]
    # A run started by something else than proj, or a proj.parameters tag too long to keep.
    return [ParameterRecord(name, "string", value, value, value, True) for name, value in params.items()]


def _load_json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:  # cut at MLflow's length limit
        return default


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit]
