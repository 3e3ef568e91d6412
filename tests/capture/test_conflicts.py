"""Which parameters a project logged with another meaning than proj's, and what proj then logs
on an MLflow server (pure functions)."""

from __future__ import annotations

import pytest

from runner.capture.conflicts import find_conflicts, same_meaning
from runner.tracking.base import ParameterConflict, ParameterRecord
from runner.tracking.mlflow_params import parameter_update
from runner.tracking.mlflow_record import parameter_rows


def _param(name: str, kind: str, given: str | None, value, rendered: str | None = None) -> ParameterRecord:
    return ParameterRecord(name, kind, given, value, rendered if rendered is not None else str(given), True)


@pytest.mark.parametrize(("parameter", "logged", "same"), [
    (_param("alpha", "float", "5", 5.0), "5.0", True),  # float(sys.argv[1]) then log_param
    (_param("alpha", "float", "5", 5.0), "5", True),  # the raw argument
    (_param("alpha", "float", "5", 5.0), "5e0", True),
    (_param("alpha", "float", "5", 5.0), "0.5", False),
    (_param("alpha", "float", "0.1", 0.1), "0.1", True),
    (_param("alpha", "float", "nan", float("nan")), "nan", True),
    (_param("epochs", "int", "3", 3), "3.0", True),  # an int logged as a float
    (_param("epochs", "int", "3", 3), "4", False),
    (_param("flag", "bool", "yes", True), "True", True),
    (_param("flag", "bool", "yes", True), "False", False),
    (_param("name", "string", "ada", "ada"), "ada", True),
    (_param("name", "string", "ada", "ada"), "Ada", False),
    (_param("data", "path", "data.csv", "/abs/data.csv", "/abs/data.csv"), "/abs/data.csv", True),
    (_param("data", "path", "data.csv", "/abs/data.csv", "/abs/data.csv"), "data.csv", True),
    (_param("alpha", "float", None, 0.5, "0.5"), "0.50", True),  # the default, logged by the script
    (_param("alpha", "float", "5", 5.0), "five", False),
])
def test_same_meaning(parameter, logged, same):
    assert same_meaning(parameter, logged) is same


def test_conflicts_are_only_parameters_logged_with_another_meaning():
    parameters = [_param("alpha", "float", "5", 5.0), _param("beta", "float", "1", 1.0), _param("gamma", "int", "2", 2)]
    assert find_conflicts(parameters, {"alpha": "0.5", "beta": "1.0"}) == [ParameterConflict("alpha", "5", "0.5")]


def test_on_a_server_proj_logs_what_the_project_did_not_and_keeps_its_other_values_in_tags():
    rows = parameter_rows([_param("alpha", "float", "5", 5.0), _param("beta", "float", "1", 1.0),
                           _param("gamma", "int", "2", 2)])
    update = parameter_update(rows, {"alpha": "0.5", "beta": "1.0"})
    assert update.params == {"gamma": "2"}  # alpha and beta are the project's: never changed
    assert update.tags == {"proj.param.alpha": "5"}
    assert update.conflicts == [ParameterConflict("alpha", "5", "0.5")]
