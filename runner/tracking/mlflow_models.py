"""The models a run logged on an MLflow server, as proj shows them on every store.

MLflow 2 clients put a model among the run's artifacts (a folder with an MLmodel file). MLflow 3
clients log a *logged model* of its own, found with `logged-models/search` by its source run,
whose files live outside the run's artifacts; proj shows them among the run's artifacts under
the model's name (or `models/<model id>/` when that name is taken), as on the local store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from runner.capture.models import MAX_MLMODEL_BYTES, MLMODEL, describe_model
from runner.errors import SpecError
from runner.outputs import Artifact
from runner.tracking.base import LoggedModel
from runner.tracking.mlflow_record import artifact_root
from runner.yamldoc import parse_yaml

MAX_MODELS = 100
Walk = Callable[[str], list[Artifact]]  # the files under a server artifact path, relative to it
Fetch = Callable[[str], bytes]  # one server artifact's contents
Search = Callable[[dict[str, Any]], dict[str, Any]]  # a logged-models/search request


@dataclass(frozen=True)
class ServerModel:
    model: LoggedModel
    root: str | None  # where an MLflow 3 model's files are on the server; None: among the run's artifacts
    files: list[Artifact]  # relative to the model's folder


def artifact_models(run_root: str, artifacts: list[Artifact], fetch: Fetch, run_id: str) -> list[ServerModel]:
    """MLflow 2 models: folders of the run's artifacts holding an MLmodel file."""
    found = []
    for artifact in artifacts:
        if PurePosixPath(artifact.path).name != MLMODEL:
            continue
        folder = artifact.path.rpartition("/")[0]
        mlmodel = _mlmodel(artifact, f"{run_root}/{artifact.path}", fetch)
        prefix = folder + "/" if folder else ""
        files = [Artifact(a.path[len(prefix):], a.size) for a in artifacts if a.path.startswith(prefix)]
        model = describe_model(mlmodel, name=folder or "model", path=folder,
                               files=[(a.path, a.size) for a in files], run_id=run_id)
        found.append(ServerModel(model, None, files))
    return found[:MAX_MODELS]


def logged_models(run: dict[str, Any], search: Search, walk: Walk, fetch: Fetch,
                  taken: set[str]) -> list[ServerModel]:
    """MLflow 3 logged models whose source is the run; `taken`: top-level artifact names in use."""
    info = run["info"]
    body = {"experiment_ids": [info["experiment_id"]], "filter": f"source_run_id = '{info['run_id']}'",
            "max_results": MAX_MODELS}
    found = []
    for entry in search(body).get("models", []):
        model_info = entry.get("info", {})
        model_id, name, root = model_info.get("model_id"), model_info.get("name") or "", artifact_root(model_info)
        if not model_id or root is None:
            continue
        path = name if name and "/" not in name and name not in taken else f"models/{model_id}"
        taken.add(path.split("/", 1)[0])
        files = walk(root)
        listed = next((a for a in files if a.path == MLMODEL), None)
        mlmodel = _mlmodel(listed, f"{root}/{MLMODEL}", fetch) if listed else {}
        model = describe_model(mlmodel, name=name or model_id, path=path, files=[(a.path, a.size) for a in files],
                               model_id=model_id, run_id=info["run_id"])
        found.append(ServerModel(model, root, files))
    return found


def _mlmodel(listed: Artifact, remote: str, fetch: Fetch) -> dict[str, Any]:
    """The MLmodel file's contents; empty when it is too large or not YAML (the model still shows)."""
    if listed.size > MAX_MLMODEL_BYTES:
        return {}
    try:
        data = parse_yaml(fetch(remote).decode("utf-8", errors="replace"), Path(MLMODEL)).data
    except SpecError:
        return {}
    return data if isinstance(data, dict) else {}
