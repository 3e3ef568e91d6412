"""proj's parameters on an MLflow server, without ever making the project's own logging fail.

MLflow refuses to change a parameter once logged ("Changing param values is not allowed"). A
classic script logs `alpha` itself, as `5.0` after `float(sys.argv[1])` or as the raw `'5'`;
had proj logged `'5'` first, the first style would crash. So proj logs its parameters when the
run has ended, and only those the project did not log: every parameter is on the run, whoever
logged it. Where the project logged a value with another meaning than proj's (`0.5` for
`alpha=5`), the run keeps the project's value and proj's goes into the tag `proj.param.<name>`
(and stays in `proj.parameters`); proj says so. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.capture.conflicts import find_conflicts
from runner.tracking.base import ParameterConflict, ParameterRecord
from runner.tracking.mlflow_record import CONFLICT_TAG, MAX_KEY, MAX_PARAM_VALUE, mlflow_params


@dataclass(frozen=True)
class ParameterUpdate:
    params: dict[str, str]  # to log: proj's parameters the project did not log
    tags: dict[str, str]  # proj.param.<name>: proj's value where the project's means something else
    conflicts: list[ParameterConflict]


def parameter_update(rows: list[list[Any]], logged: dict[str, str]) -> ParameterUpdate:
    """What to log at the run's end, given the parameters the run has already (`logged`)."""
    parameters = [ParameterRecord(*row) for row in rows]
    conflicts = find_conflicts(parameters, logged)
    return ParameterUpdate(
        params=mlflow_params([p for p in parameters if p.name not in logged]),
        tags={(CONFLICT_TAG + c.name)[:MAX_KEY]: c.proj[:MAX_PARAM_VALUE] for c in conflicts},
        conflicts=conflicts)
