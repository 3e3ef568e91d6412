"""One run as the project's MLflow client left it: metrics, artifacts, models, parameters, tags.

Artifacts are what `mlflow.log_artifact(s)` wrote, MLflow 2 models among them, plus each MLflow 3
logged model's files, shown under the model's name (`model/MLmodel`, as MLflow 2 placed them) or,
when that name is taken, under `models/<model id>/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from runner.capture.conflicts import find_conflicts
from runner.capture.filestore import CapturedRun, FileStore
from runner.capture.models import MAX_MLMODEL_BYTES, MLMODEL, describe_model
from runner.outputs import Artifact, MetricPoint
from runner.runfiles import RunFolder, relative_parts
from runner.tracking.base import LoggedModel, MlflowData, ParameterRecord


@dataclass(frozen=True)
class _Placed:
    """Files shown under `prefix` among the run's artifacts, kept in `folder`."""

    prefix: str
    folder: RunFolder
    files: list[Artifact]


class CaptureView:
    """The MLflow run `run_id` in the capture folder `store`."""

    def __init__(self, store: FileStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._placed: list[_Placed] | None = None
        self._models: list[LoggedModel] | None = None

    # --- what the run logged ---------------------------------------------------------------

    def run(self) -> CapturedRun | None:
        return self.store.run(self.run_id)

    def metrics(self) -> list[MetricPoint]:
        return self.store.metrics(self.run_id)

    def data(self, parameters: Iterable[ParameterRecord] = ()) -> MlflowData | None:
        """Parameters, tags, models and the MLflow run's own status; None if there is no such run."""
        run = self.run()
        if run is None:
            return None
        conflicts = find_conflicts(parameters, run.params)
        return MlflowData(params=run.params, tags=run.tags, models=self.models(), conflicts=conflicts,
                          status=run.status, problems=list(self.store.problems.items))

    def others(self) -> list[tuple[CapturedRun, str]]:
        """Every run in the capture but this one and proj's own, with the run it belongs to: the
        parent its `mlflow.parentRunId` names when that is in the capture, else proj's run (a
        second top-level `start_run` after the first ended belongs to the proj run too)."""
        ids = self.store.run_ids()
        main = self.store.main_run_id or self.run_id
        runs = [run for run_id in ids if run_id not in (self.run_id, main) and (run := self.store.run(run_id))]
        return [(run, run.parent_run_id if run.parent_run_id in ids else main) for run in runs]

    def children(self) -> list[CapturedRun]:
        """Runs the project started inside this one (`mlflow.start_run(nested=True)`)."""
        return [run for run, parent in self.others() if parent == self.run_id]

    # --- artifacts and models --------------------------------------------------------------

    def artifacts(self) -> list[Artifact]:
        return [Artifact(_join(p.prefix, a.path), a.size) for p in self._placements() for a in p.files]

    def open(self, relative: str) -> BinaryIO:
        """The file shown at `relative` among the artifacts, opened for reading. FileNotFoundError
        when there is none; RunFileError for a path that would leave the folder or is no file."""
        wanted = "/".join(relative_parts(relative))
        for placed in self._placements():
            inner = _inside(placed.prefix, wanted)
            if inner and any(a.path == inner for a in placed.files):
                return placed.folder.open(inner)
        raise FileNotFoundError(relative)

    def models(self) -> list[LoggedModel]:
        if self._models is None:
            self._placements()
        return list(self._models or [])

    def _placements(self) -> list[_Placed]:
        if self._placed is not None:
            return self._placed
        artifacts = self.store.artifact_folder(self.run_id)
        run_files = self.store.files(artifacts)
        placed = [_Placed("", artifacts, run_files)]
        models = [model for model in (self._artifact_model(artifacts, run_files, folder)
                                      for folder in _mlmodel_folders(run_files)) if model is not None]
        taken = {a.path.split("/", 1)[0] for a in run_files}
        for model_id in self.store.model_ids():
            found = self._logged_model(model_id, taken)
            if found is not None:
                models.append(found[0])
                placed.append(found[1])
                taken.add(found[0].path.split("/", 1)[0])
        self._placed, self._models = placed, models
        return placed

    def _artifact_model(self, artifacts: RunFolder, run_files: list[Artifact], folder: str) -> LoggedModel | None:
        """An MLflow 2 model: a folder of the run's artifacts with an MLmodel file."""
        parts = tuple(p for p in folder.split("/") if p)
        mlmodel = self.store.yaml(artifacts.child(*parts), MLMODEL, f"model {folder or '.'}: ", MAX_MLMODEL_BYTES)
        if mlmodel is None:
            return None
        prefix = folder + "/" if folder else ""
        files = [(a.path[len(prefix):], a.size) for a in run_files if a.path.startswith(prefix)]
        return describe_model(mlmodel, name=folder or "model", path=folder, files=files, run_id=self.run_id)

    def _logged_model(self, model_id: str, taken: set[str]) -> tuple[LoggedModel, _Placed] | None:
        """An MLflow 3 logged model of this run, and where its files are shown."""
        folder = self.store.model_folder(model_id)
        meta = self.store.yaml(folder, "meta.yaml", f"model {model_id}: ")
        if meta is None or meta.get("source_run_id") != self.run_id:
            return None
        named = meta.get("name")
        name = named if isinstance(named, str) and named else model_id
        path = name if _plain_name(name) and name not in taken else f"models/{model_id}"
        files_folder = folder.child("artifacts")
        files = self.store.files(files_folder)
        mlmodel = self.store.yaml(files_folder, MLMODEL, f"model {name}: ", MAX_MLMODEL_BYTES) or {}
        model = describe_model(mlmodel, name=name, path=path, files=[(a.path, a.size) for a in files],
                               model_id=model_id, run_id=self.run_id)
        return model, _Placed(path, files_folder, files)


def _mlmodel_folders(files: list[Artifact]) -> list[str]:
    return [a.path.rpartition("/")[0] for a in files if PurePosixPath(a.path).name == MLMODEL]


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and "\0" not in name


def _join(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _inside(prefix: str, wanted: str) -> str | None:
    """`wanted` relative to `prefix`, or None when it is not under it."""
    if not prefix:
        return wanted
    if wanted == prefix:
        return ""
    return wanted[len(prefix) + 1:] if wanted.startswith(prefix + "/") else None
