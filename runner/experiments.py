"""Which experiment a run is recorded under: `--experiment-name`, `--experiment-id`, or the
variables MLflow reads (`MLFLOW_EXPERIMENT_NAME`, `MLFLOW_EXPERIMENT_ID`), as `mlflow run` does,
or the project's settings file (`experiment` in proj.toml or pyproject.toml's [tool.proj]).

An option always beats a variable (MLflow's command line instead refuses `--experiment-id` when
MLFLOW_EXPERIMENT_NAME is set). Both variables together must name the same experiment, as
MLflow's library requires. Nothing given: the experiment `Default` (id 0 in MLflow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from runner.errors import UsageError
from runner.tracking.base import DEFAULT_EXPERIMENT, TrackingStore

if TYPE_CHECKING:
    from runner.projectconfig import ProjectConfig


class ExperimentChoice(NamedTuple):
    """What was asked for; at most one of name and id unless both came from variables."""

    name: str | None = None
    id: str | None = None
    origin: str | None = None  # the option or variable(s) it came from; None: the default

    @property
    def explicit(self) -> bool:
        return self.origin is not None and self.origin.startswith("--")


def choose_experiment(name: str | None, experiment_id: str | None, environ: Mapping[str, str],
                      configured: ProjectConfig | None = None) -> ExperimentChoice:
    """The experiment options given, else the variables (PROJ_EXPERIMENT_NAME first), else the
    project's settings file (runner.projectconfig)."""
    if name is not None and experiment_id is not None:
        raise UsageError("Give only one of --experiment-name and --experiment-id")
    if name is not None:
        return ExperimentChoice(name=_nonempty(name, "--experiment-name"), origin="--experiment-name")
    if experiment_id is not None:
        return ExperimentChoice(id=_nonempty(experiment_id, "--experiment-id"), origin="--experiment-id")
    for variable in ("PROJ_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME"):
        if environ.get(variable):
            if variable == "MLFLOW_EXPERIMENT_NAME" and environ.get("MLFLOW_EXPERIMENT_ID"):
                return ExperimentChoice(name=environ[variable], id=environ["MLFLOW_EXPERIMENT_ID"],
                                        origin="MLFLOW_EXPERIMENT_NAME and MLFLOW_EXPERIMENT_ID")
            return ExperimentChoice(name=environ[variable], origin=variable)
    if environ.get("MLFLOW_EXPERIMENT_ID"):
        return ExperimentChoice(id=environ["MLFLOW_EXPERIMENT_ID"], origin="MLFLOW_EXPERIMENT_ID")
    if configured is not None and configured.experiment:
        return ExperimentChoice(name=configured.experiment, origin=configured.origin("experiment"))
    return ExperimentChoice()


def experiment_name(store: TrackingStore, name: str | None, experiment_id: str | None) -> str:
    """The name of the chosen experiment in `store` (an id must exist there; a name is created
    when the run starts if it does not exist yet)."""
    if experiment_id is None:
        return name or DEFAULT_EXPERIMENT
    named = store.experiment_name(experiment_id)
    if name is not None and name != named:
        raise UsageError(f"The experiment name {name!r} and id {experiment_id} disagree: experiment "
                         f"{experiment_id} is {named!r}", hint="give only one of them")
    return named


def _nonempty(value: str, option: str) -> str:
    if not value.strip():
        raise UsageError(f"{option} must not be empty")
    return value
