"""Where a project's own `runner.log_*` calls land: the run proj started for it, if any.

Under `proj run` the entry point gets `PROJ_OUTPUT_DIR` (metrics and artifacts) and, on stores
that keep what a project logs with MLflow, the variables that point MLflow's client at the proj
run (`MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID` equal to `PROJ_RUN_ID`). Parameters and tags go where
`mlflow.log_param` would put them, so proj reads them back like the project's MLflow logging:

- a `file:` URI is the run's capture (runner.capture.location), an MLflow file store:
  `<root>/<experiment id>/<run id>/params/<key>` holds the value, `tags/<key>` likewise;
- an `http(s):` URI is the MLflow tracking server proj records the run in (its REST API).

Standard library only, except the REST client, imported when a server is written to.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


class MlflowRun(Protocol):
    def log_param(self, key: str, value: str) -> None: ...

    def set_tag(self, key: str, value: str) -> None: ...


def output_dir() -> Path | None:
    """The run's output folder, when running under `proj run`."""
    folder = os.environ.get("PROJ_OUTPUT_DIR")
    return Path(folder) if folder else None


def mlflow_run() -> MlflowRun | None:
    """The proj run's MLflow side, when this process runs under proj and its store keeps it."""
    run_id = os.environ.get("PROJ_RUN_ID")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not run_id or os.environ.get("MLFLOW_RUN_ID") != run_id or output_dir() is None:
        return None
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file":
        folder = Path(unquote(urlsplit(uri).path)) / os.environ.get("MLFLOW_EXPERIMENT_ID", "0") / run_id
        return FileStoreRun(folder) if folder.is_dir() else None
    if scheme in ("http", "https"):
        return ServerRun(uri, run_id)
    return None


class FileStoreRun:
    """A run of an MLflow file store, written as MLflow's own client writes it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def log_param(self, key: str, value: str) -> None:
        path = self.folder / "params" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            earlier = path.read_text(encoding="utf-8")
            if earlier != value:
                raise ValueError(f"parameter {key!r} was logged as {earlier!r} in this run; it cannot change to "
                                 f"{value!r} (MLflow keeps one value per parameter)") from None
            return
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)

    def set_tag(self, key: str, value: str) -> None:
        path = self.folder / "tags" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader sees the old value or the new one, never half. The
        # temporary file lies in the run's folder, not in tags/, where a leftover one (a process
        # killed between the two steps) would be read back as a tag; proj and MLflow read only
        # meta.yaml and the four named folders there.
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".proj-tag-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise


class ServerRun:
    """The proj run on an MLflow tracking server (the project's MLflow client would log there too)."""

    def __init__(self, uri: str, run_id: str) -> None:
        self.uri, self.run_id = uri, run_id

    def log_param(self, key: str, value: str) -> None:
        self._post("runs/log-parameter", {"run_id": self.run_id, "key": key, "value": value}, f"log parameter {key!r}")

    def set_tag(self, key: str, value: str) -> None:
        self._post("runs/set-tag", {"run_id": self.run_id, "key": key, "value": value}, f"set tag {key!r}")

    def _post(self, endpoint: str, body: dict[str, object], doing: str) -> None:
        from runner.tracking.mlflow_rest import MlflowApiError, MlflowRestClient, ServerUnreachable, as_tracking_error

        try:
            MlflowRestClient(self.uri).post(endpoint, body)
        except MlflowApiError as err:
            if err.status == 400:  # the server refused the value (a parameter that would change)
                raise ValueError(f"the MLflow server refused to {doing}: {err.message}") from None
            raise as_tracking_error(self.uri, doing, err) from None
        except ServerUnreachable as err:
            raise as_tracking_error(self.uri, doing, err) from None
