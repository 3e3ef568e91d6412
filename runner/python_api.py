"""The Python API for scripts and notebooks: run a project, search the runs (docs/python-api.md).

    import runner
    record = runner.run("example-projects/grid", parameters={"alpha": 0.5}, env_manager="local")
    best = runner.search_runs(filter="metrics.rmse < 0.8", order_by=["metrics.rmse"])

`run` does what `proj run` does (the same checks, environment, record and exit code rules) and
returns the run's record; `search_runs` reads any tracking store with MLflow's search syntax
(runner.runfilter) and returns records, or a pandas DataFrame shaped like `mlflow.search_runs`'s.
Progress and warnings go to the `runner` logger; the project's output to `sys.stdout`.
"""

from __future__ import annotations

import codecs
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Union, cast, overload

from runner.errors import ProjError, UsageError
from runner.tracking.base import RunRecord, RunStatus

if TYPE_CHECKING:
    import pandas

    from runner.tracking.base import TrackingStore

_log = logging.getLogger("runner")
OutputFormat = Literal["auto", "records", "pandas"]


class RunFailedError(ProjError):
    """`runner.run(..., check=True)` of a run that did not finish; `record` says how it ended."""

    def __init__(self, record: RunRecord) -> None:
        code = "" if record.exit_code is None else f" with exit code {record.exit_code}"
        super().__init__(f"run {record.run_id} ended {record.status.value}{code}",
                         hint=f"its output: proj runs logs {record.run_id[:12]}")
        self.record = record


def run(uri: str | os.PathLike[str], entry_point: str = "main", parameters: Mapping[str, object] | None = None, *,
        version: str | None = None, experiment_name: str | None = None, experiment_id: str | None = None,
        run_name: str | None = None, env_manager: str | None = None, backend: str = "local",
        backend_config: Mapping[str, Any] | str | None = None, env_config: Mapping[str, Any] | str | None = None,
        tracking_uri: str | None = None, storage_dir: str | os.PathLike[str] | None = None, strict: bool = False,
        frozen: bool = False, detach: bool = False, check: bool = True) -> RunRecord:
    """Run an entry point of a project, as `proj run` does, and return its record.

    `parameters` are the `-P` values (each given as `str(value)`, then type-checked against the
    entry point). With `check` (the default) a run that does not finish raises RunFailedError,
    as `mlflow.projects.run` raises; errors before the run raise the ProjError subclass `proj run`
    would report (UsageError, ParameterError, EnvironmentSetupError, ...). `detach` hands the run
    to a scheduler backend and returns it RUNNING. Ctrl-C stops the run as it stops `proj run`
    (recorded KILLED), then raises KeyboardInterrupt.
    """
    from runner.api import RunRequest, run_project
    from runner.environments.kind import EnvironmentSettings
    from runner.experiments import choose_experiment
    from runner.projectconfig import project_config

    settings = project_config()  # proj.toml or [tool.proj]: defaults below arguments and variables, as in the CLI
    experiment = choose_experiment(experiment_name, experiment_id, os.environ, settings)
    environment = EnvironmentSettings(config=_settings(env_config, "env_config"), frozen=frozen)
    request = RunRequest(
        uri=os.fspath(uri), entry_point=entry_point, version=version, parameters=_texts(parameters or {}),
        experiment=experiment.name, experiment_id=experiment.id, run_name=run_name,
        env_manager=env_manager or settings.env_manager,
        storage_dir=None if storage_dir is None else Path(storage_dir), tracking_uri=tracking_uri, backend=backend,
        strict=strict, environment=environment, detach=detach,
        backend_config=_settings(backend_config, "backend_config"))
    # The sink has the two methods a backend calls on its terminal: write and flush.
    terminal = cast(BinaryIO, _StdoutSink())
    outcome = run_project(request, _LoggingReporter(), terminal=terminal, on_started=_started)
    record = outcome.record
    _log.info("run %s %s in %s", record.run_id, record.status.value, _duration(record))
    if outcome.interrupted_by == signal.SIGINT:  # Ctrl-C: recorded KILLED, and the caller stops too
        raise KeyboardInterrupt
    if check and not detach and record.status is not RunStatus.FINISHED:
        raise RunFailedError(record)
    return record


@overload
def search_runs(filter: str = "", order_by: str | Sequence[str] | None = None, *,
                experiment_names: Sequence[str] | None = None, max_results: int = 100_000,
                tracking_uri: str | None = None, output_format: Literal["records"]) -> list[RunRecord]: ...


@overload
def search_runs(filter: str = "", order_by: str | Sequence[str] | None = None, *,
                experiment_names: Sequence[str] | None = None, max_results: int = 100_000,
                tracking_uri: str | None = None, output_format: Literal["pandas"]) -> pandas.DataFrame: ...


@overload
def search_runs(filter: str = "", order_by: str | Sequence[str] | None = None, *,
                experiment_names: Sequence[str] | None = None, max_results: int = 100_000,
                tracking_uri: str | None = None,
                output_format: Literal["auto"] = "auto") -> Union[list[RunRecord], pandas.DataFrame]: ...


def search_runs(filter: str = "", order_by: str | Sequence[str] | None = None, *,
                experiment_names: Sequence[str] | None = None, max_results: int = 100_000,
                tracking_uri: str | None = None,
                output_format: OutputFormat = "auto") -> Union[list[RunRecord], pandas.DataFrame]:
    """The runs of a tracking store that match `filter` (MLflow's search syntax), ordered by
    `order_by` (`"metrics.rmse"`, `"params.alpha DESC"`, ...; newest first otherwise).

    The store is `tracking_uri`, else $PROJ_TRACKING_URI, $MLFLOW_TRACKING_URI or ./.proj, as
    for `proj runs list`. `output_format="auto"` returns a pandas DataFrame when pandas is
    installed (as `mlflow.search_runs` does) and a list of RunRecord otherwise.
    """
    from runner.runsearch import search_records

    if output_format not in ("auto", "records", "pandas"):
        raise UsageError(f"output_format {output_format!r}: choose 'auto', 'records' or 'pandas'")
    if max_results < 1:
        raise UsageError(f"max_results must be 1 or more, not {max_results}")
    orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
    records = search_records(_open_store(tracking_uri), filter, orders, experiment_names, max_results)
    if output_format == "records" or output_format == "auto" and not _has_pandas():
        return records
    from runner.runframe import runs_frame

    return runs_frame(records)


def _open_store(tracking_uri: str | None) -> TrackingStore:
    from runner.tracking import open_store, resolve_tracking_uri

    return open_store(resolve_tracking_uri(tracking_uri))


def _has_pandas() -> bool:
    import importlib.util

    return importlib.util.find_spec("pandas") is not None


def _texts(parameters: Mapping[str, object]) -> dict[str, str]:
    """-P values as text, as `mlflow.projects.run` passes them on (`str(value)`)."""
    return {str(name): str(value) for name, value in parameters.items()}


def _settings(value: Mapping[str, Any] | str | None, name: str) -> dict[str, Any]:
    """Settings given as a mapping, or as text: a JSON or YAML file, or inline JSON (as the CLI)."""
    from runner.backends.config import read_backend_config

    if value is None or isinstance(value, str):
        return read_backend_config(value, name)
    if not isinstance(value, Mapping):
        raise UsageError(f"{name} must be a mapping of settings, or a file or inline JSON as text")
    return dict(value)


def _duration(record: RunRecord) -> str:
    return "?" if record.duration is None else f"{record.duration:.1f} s"


def _started(record: RunRecord, store: TrackingStore) -> None:
    _log.info("run %s started in experiment %r, recorded in %s", record.run_id, record.experiment, store.uri)


class _LoggingReporter:
    """proj's progress and warnings, as records of the `runner` logger."""

    def info(self, message: str) -> None:
        _log.info("%s", message)

    def warning(self, message: str) -> None:
        _log.warning("%s", message)


class _StdoutSink:
    """The project's output, written to whatever `sys.stdout` is when it arrives (a notebook's
    cell, a redirected stream), decoded as UTF-8 however the bytes are split."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data: bytes) -> int:
        sys.stdout.write(self._decoder.decode(data))
        return len(data)

    def flush(self) -> None:
        sys.stdout.flush()
