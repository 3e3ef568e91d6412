"""Continuing an existing run (`proj run --run-id RUN`), as `mlflow run --run-id` does.

The run becomes RUNNING again and ends as this execution ends. It stays in its experiment and
keeps its start time, name (unless --run-name), user, tags (--tag adds to them) and description
(unless --description); what describes the execution
(command, source, environment, backend) is replaced by this one's. Parameters it lacks are added;
a parameter it has must keep its value, because MLflow never lets a logged parameter change.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.errors import ParameterError, UsageError
from runner.experiments import experiment_name
from runner.tracking.base import RunRecord, RunStatus, TrackingStore, launcher_alive, launcher_token


def run_to_continue(store: TrackingStore, run_ref: str, *, experiment: str | None, experiment_id: str | None,
                    parameters: Mapping[str, str]) -> RunRecord:
    """The run `--run-id` names, once everything that would stop it from continuing is ruled out.

    `experiment`/`experiment_id` are the options given (the run's own experiment is used; a
    different one is an error); `parameters` are this execution's values as they will be logged.
    """
    existing = store.run_to_continue(run_ref)
    if existing.deleted:
        raise UsageError(f"Run {existing.run_id} is deleted; it cannot be continued",
                         hint=f"restore it first (proj runs restore {existing.run_id[:12]}), or leave out --run-id "
                              "to start a new run")
    if experiment is not None or experiment_id is not None:
        wanted = experiment_name(store, experiment, experiment_id)
        if wanted != existing.experiment:
            raise UsageError(f"Run {existing.run_id} is in experiment {existing.experiment!r}, not {wanted!r}",
                             hint="a continued run stays in its experiment: leave out the experiment option")
    if (existing.status is RunStatus.RUNNING and existing.launcher != launcher_token()
            and launcher_alive(existing.launcher, existing.host)):
        raise UsageError(f"Run {existing.run_id} is being run right now by proj process "
                         f"{existing.launcher.partition(':')[0]}", hint="wait for it to end, or stop it")
    _check_unchanged(existing, parameters)
    return existing


def continued_record(existing: RunRecord, fresh: RunRecord, run_name: str | None) -> RunRecord:
    """`fresh` (this execution) as the next chapter of `existing`."""
    fresh.run_id = existing.run_id
    fresh.experiment, fresh.experiment_id = existing.experiment, existing.experiment_id
    fresh.start_time = existing.start_time
    fresh.run_name = run_name or existing.run_name
    fresh.user = existing.user
    fresh.tags = {**existing.tags, **fresh.tags}  # this execution's --tag added to the run's own
    fresh.description = fresh.description or existing.description
    fresh.sweep_id = existing.sweep_id
    names = {p.name for p in fresh.parameters}
    fresh.parameters = fresh.parameters + [p for p in existing.parameters if p.name not in names]
    return fresh


def _check_unchanged(existing: RunRecord, parameters: Mapping[str, str]) -> None:
    logged = existing.parameter_values()
    changed = [f"{name}: {logged[name]!r} → {value!r}" for name, value in parameters.items()
               if name in logged and str(logged[name]) != value]
    if changed:
        raise ParameterError(f"Run {existing.run_id} already has other values for these parameters: "
                             + "; ".join(changed),
                             hint="a logged parameter cannot change (MLflow refuses it too); start a new run "
                                  "(leave out --run-id), or give the values the run has")
