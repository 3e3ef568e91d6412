"""Reading runs back from an MLflow server: `proj runs list/show/logs/artifacts`.

A run's own files are under `proj/` among its artifacts (the output log, the dirty diff, the
environment lock); everything else there is what the run wrote to $PROJ_OUTPUT_DIR, or logged
itself with `mlflow.log_artifact`. Artifacts asked for by path are downloaded into
`$PROJ_HOME/mlflow/artifacts/<run id>/` so that callers get local files, as from any store.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar

from runner.errors import RunNotFoundError, TrackingError
from runner.locations import proj_home
from runner.outputs import Artifact, MetricPoint, artifact_path, summarise
from runner.runfiles import RunFileError, is_regular_file, open_without_links
from runner.runmatch import matches
from runner.tracking import mlflow_query as queries
from runner.tracking import mlflow_record as mapping
from runner.tracking.base import RunQuery, RunRecord
from runner.tracking.mlflow_models import ServerModel, artifact_models, logged_models
from runner.tracking.mlflow_rest import (
    JsonObject,
    MlflowApiError,
    MlflowRestClient,
    ServerUnreachable,
    as_tracking_error,
    json_object,
    json_objects,
)
from runner.tracking.spool import Spool

P = ParamSpec("P")
T = TypeVar("T")

RUN_REF = re.compile(r"^[0-9a-f]{1,32}$")
_SEARCH_MAX = 50_000  # MLflow's ceiling for max_results in runs/search


class MlflowReader:
    def __init__(self, uri: str, client: MlflowRestClient, spool: Spool) -> None:
        self.uri = uri
        self.client = client
        self.spool = spool
        self._experiment_names: dict[str, str] = {}
        self._histories: dict[str, list[MetricPoint]] = {}
        self._listings: dict[str, list[Artifact]] = {}
        self._models: dict[str, list[ServerModel]] = {}

    # --- runs ------------------------------------------------------------------------------

    def get_run(self, ref: str) -> RunRecord:
        ref = ref.strip().lower()
        if not RUN_REF.match(ref):
            raise RunNotFoundError(f"{ref!r} is not a run id (run ids are hexadecimal)")
        if len(ref) == 32:
            run = self.raw_run(ref)
        else:
            runs = self._search(self._all_experiment_ids(), [f"attributes.run_id LIKE '{ref}%'"], 2, view="ALL")
            if len(runs) > 1:
                raise RunNotFoundError(f"Run id prefix {ref!r} is ambiguous on {self.uri}; give more characters")
            if not runs:
                raise RunNotFoundError(f"No run {ref!r} on {self.uri}")
            run = runs[0]
        record = self._record(run)
        # One run: exact summaries from each metric's history (a search tells the last values only).
        record.metrics = {key: s.as_dict() for key, s in summarise(self.metric_points(record.run_id, run)).items()}
        if record.mlflow is not None:
            record.mlflow.models = [m.model for m in self.models(record.run_id)]
        record.child_runs = [r["info"]["run_id"] for r in self._search(
            [run["info"]["experiment_id"]], [f"tags.`{mapping.PARENT_TAG}` = '{record.run_id}'"], _SEARCH_MAX,
            view="ALL")]
        return record

    def raw_run(self, run_id: str) -> JsonObject:
        try:
            return json_object(self.client.get("runs/get", run_id=run_id), "run")
        except MlflowApiError as err:
            if err.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise RunNotFoundError(f"No run {run_id!r} on {self.uri}") from None
            raise as_tracking_error(self.uri, "read the run", err) from None
        except ServerUnreachable as err:
            raise as_tracking_error(self.uri, "read the run", err) from None

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        return self._matching(query, everything=False)[query.offset:query.offset + query.limit]

    def count_runs(self, query: RunQuery) -> int:
        """Counted here, over at most MLflow's page ceiling of matching runs."""
        return len(self._matching(query, everything=True))

    def sweep_ids(self, prefix: str, limit: int) -> list[str]:
        if "'" in prefix or "%" in prefix or "_" in prefix:
            return []  # sweep ids are hexadecimal
        runs = self._search(self._all_experiment_ids(), [f"tags.`proj.sweep_id` LIKE '{prefix}%'"], 1000, view="ALL")
        found = sorted({t["value"] for r in runs for t in r.get("data", {}).get("tags", [])
                        if t["key"] == "proj.sweep_id"})
        return found[:limit]

    def _matching(self, query: RunQuery, *, everything: bool) -> list[RunRecord]:
        """The runs matching `query` in its order: the first page's worth, or all the server gives."""
        if query.experiment is None:
            experiment_ids = self._all_experiment_ids()
        else:
            found = self.find_experiment(query.experiment)
            experiment_ids = [found["experiment_id"]] if found else []
        if not experiment_ids:
            return []
        filters, leftover = queries.search_filters(query)
        terms, kept = queries.filter_terms(query.filter)
        # What the server cannot filter or order is done here, over every matching run, so that
        # the limit applies to the runs that match.
        here = everything or queries.is_sorted_here(query) or queries.is_filtered_here(query, leftover) \
            or kept is not None
        wanted = _SEARCH_MAX if here else min(query.limit + query.offset, _SEARCH_MAX)
        runs = self._search(experiment_ids, filters + terms, wanted, view=queries.view_type(query))
        records = [self._record(run) for run in runs]
        records = [r for r in records if queries.matches(r, query, leftover) and matches(kept, r)]
        return queries.sort_records(records, query)

    # --- what runs left --------------------------------------------------------------------

    def read_attachment(self, run_id: str, name: str, staging: Path) -> bytes:
        with self.open_attachment(run_id, name, staging) as handle:
            return handle.read()

    def open_attachment(self, run_id: str, name: str, staging: Path) -> BinaryIO:
        """A kept file opened for reading, never held whole in memory (a log may be gigabytes): the
        copy on this machine, else the server's, downloaded into an unnamed temporary file."""
        relative = f"{mapping.PROJ_FOLDER}/{name}"
        for candidate in [staging / name] + [e.files / relative for e in self.spool.entries(run_id=run_id)]:
            if is_regular_file(candidate):  # kept on this machine, or waiting in the spool; never a link
                try:
                    return open_without_links(candidate)
                except RunFileError as err:  # replaced by a link since: the run's code is at work
                    raise TrackingError(f"Cannot read {name} of run {run_id}: it {err.reason}",
                                        hint="the run's own code replaced a file proj keeps with it") from None
        root = mapping.artifact_root(self.raw_run(run_id)["info"])
        if root is None:
            raise RunNotFoundError(f"Run {run_id} has no file {name!r} on this machine, and its artifacts are "
                                   f"not served by {self.uri}")
        try:
            return self._downloaded(f"{root}/{relative}")
        except MlflowApiError as err:
            if err.status == 404:
                raise RunNotFoundError(f"Run {run_id} has no file {name!r}") from None
            raise as_tracking_error(self.uri, f"read {name}", err) from None
        except ServerUnreachable as err:
            raise as_tracking_error(self.uri, f"read {name}", err) from None

    def _downloaded(self, remote: str) -> BinaryIO:
        """`remote` streamed to a temporary file, returned open; the file's name is gone already."""
        spare = proj_home() / "mlflow"
        spare.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=spare, prefix="download-") as folder:
            target = Path(folder) / "file"
            self.client.download_artifact(remote, target)
            return target.open("rb")

    def metric_points(self, run_id: str, run: JsonObject | None = None) -> list[MetricPoint]:
        """Every value of every metric of the run, as logged (by proj or by the project's code)."""
        if run_id not in self._histories:
            run = run or self.raw_run(run_id)
            keys = [m["key"] for m in run.get("data", {}).get("metrics", [])]
            self._histories[run_id] = [point for key in keys for point in self._history(run_id, key)]
        return self._histories[run_id]

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The run's artifacts (its `proj/` files left out), recursively, then the files of the
        models it logged with MLflow 3 (under each model's path)."""
        if run_id not in self._listings:
            own = self._run_artifacts(run_id)
            placed = [Artifact(f"{m.model.path}/{a.path}", a.size) for m in self.models(run_id) if m.root is not None
                      for a in m.files]
            self._listings[run_id] = own + placed
        return self._listings[run_id]

    def models(self, run_id: str) -> list[ServerModel]:
        """Models the run logged: MLflow 2 model folders among its artifacts, MLflow 3 logged models."""
        if run_id not in self._models:
            run = self.raw_run(run_id)
            root = mapping.artifact_root(run["info"])
            own = self._run_artifacts(run_id)

            def fetch(path: str) -> bytes:
                return self._checked("read a model's MLmodel", self.client.get_artifact, path)

            def search(body: JsonObject) -> JsonObject:
                return self._checked("search the run's models", self.client.post, "logged-models/search", body)

            found = artifact_models(root, own, fetch, run_id) if root is not None else []
            taken = {a.path.split("/", 1)[0] for a in own}
            found += logged_models(run, search, lambda path: self._walk(path, ""), fetch, taken)
            self._models[run_id] = found
        return self._models[run_id]

    def _run_artifacts(self, run_id: str) -> list[Artifact]:
        root = mapping.artifact_root(self.raw_run(run_id)["info"])
        found = [] if root is None else self._walk(root, "")
        return [a for a in found if not a.path.startswith(mapping.PROJ_FOLDER + "/")]

    def artifact_path(self, run_id: str, relative: str) -> Path:
        """A local copy of an artifact (or of a folder of them), downloaded when first asked for."""
        cache = proj_home() / "mlflow" / "artifacts" / run_id
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = artifact_path(cache, relative)  # refuses absolute paths, `..`, symlinks
        wanted = target.relative_to(cache).as_posix()
        listed = self.list_artifacts(run_id)
        if wanted == "." or any(a.path.startswith(wanted + "/") for a in listed):
            target.mkdir(parents=True, exist_ok=True)
            return target
        for artifact in listed:
            if artifact.path == wanted and not (target.is_file() and target.stat().st_size == artifact.size):
                target.parent.mkdir(parents=True, exist_ok=True)
                self._checked(f"download {wanted}", self.client.download_artifact, self._remote(run_id, wanted), target)
        return target

    def _remote(self, run_id: str, wanted: str) -> str:
        """Where an artifact shown at `wanted` is on the server: under an MLflow 3 model, or the run."""
        for found in self.models(run_id):
            if found.root is not None and wanted.startswith(found.model.path + "/"):
                return f"{found.root}/{wanted[len(found.model.path) + 1:]}"
        return f"{mapping.artifact_root(self.raw_run(run_id)['info'])}/{wanted}"

    # --- experiments -----------------------------------------------------------------------

    def find_experiment(self, name: str) -> JsonObject | None:
        def lookup() -> JsonObject | None:
            try:
                return json_object(self.client.get("experiments/get-by-name", experiment_name=name), "experiment")
            except MlflowApiError as err:
                if err.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise

        return self._checked(f"look up the experiment {name!r}", lookup)

    def _all_experiment_ids(self) -> list[str]:
        ids, token = [], None
        while True:
            body = {"max_results": 1000, **({"page_token": token} if token else {})}
            page = self._checked("list experiments", self.client.post, "experiments/search", body)
            for experiment in page.get("experiments", []):
                ids.append(experiment["experiment_id"])
                self._experiment_names[experiment["experiment_id"]] = experiment["name"]
            token = page.get("next_page_token")
            if not token:
                return ids

    # --- helpers ---------------------------------------------------------------------------

    def _search(self, experiment_ids: list[str], filters: list[str], max_results: int,
                view: str = "ACTIVE_ONLY") -> list[JsonObject]:
        body = {"experiment_ids": experiment_ids, "filter": " and ".join(filters), "run_view_type": view,
                "max_results": max_results, "order_by": ["attributes.start_time DESC"]}
        return json_objects(self._checked("search runs", self.client.post, "runs/search", body), "runs")

    def _history(self, run_id: str, key: str) -> list[MetricPoint]:
        points, token = [], None
        while True:
            query = {"run_id": run_id, "metric_key": key, "max_results": 25000,
                     **({"page_token": token} if token else {})}
            page = self._checked(f"read the metric {key!r}", self.client.get, "metrics/get-history", **query)
            points += mapping.metric_points(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return points

    def _walk(self, root: str, folder: str) -> list[Artifact]:
        entries = self._checked("list the run's artifacts", self.client.list_artifact_folder,
                                f"{root}/{folder}".rstrip("/"))
        found = []
        for entry in entries:
            path = f"{folder}/{entry['path']}" if folder else entry["path"]  # names come relative to the folder
            found += self._walk(root, path) if entry.get("is_dir") else [Artifact(path, int(entry.get("file_size", 0)))]
        return sorted(found, key=lambda a: a.path)

    def _record(self, run: JsonObject) -> RunRecord:
        experiment_id = run["info"]["experiment_id"]
        if experiment_id not in self._experiment_names:
            found = self._checked("read the experiment", self.client.get, "experiments/get",
                                  experiment_id=experiment_id)
            self._experiment_names[experiment_id] = found["experiment"]["name"]
        return mapping.record_from_run(run, self._experiment_names[experiment_id])

    def _checked(self, doing: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except (ServerUnreachable, MlflowApiError) as err:
            raise as_tracking_error(self.uri, doing, err) from None
