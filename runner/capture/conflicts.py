"""Parameters proj was given that the project also logged itself: same meaning, or not.

A classic training script parses `alpha = float(sys.argv[1])` and logs `5.0` where proj was
given `5`: the same value, written differently. MLflow keeps one value per parameter name, so
only a value with another meaning (`0.5` logged for `alpha=5`) is worth telling the user about.
Pure functions; every store uses them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from runner.grammar import parse_typed
from runner.tracking.base import ParameterConflict, ParameterRecord


def given_text(parameter: ParameterRecord) -> str:
    """The parameter as proj logs it: as given with -P, else its default as rendered."""
    return parameter.given if parameter.given is not None else parameter.rendered


def find_conflicts(parameters: Iterable[ParameterRecord], logged: Mapping[str, str]) -> list[ParameterConflict]:
    """The parameters the project logged with a meaning other than the one proj was given."""
    return [ParameterConflict(p.name, given_text(p), logged[p.name]) for p in parameters
            if p.name in logged and not same_meaning(p, logged[p.name])]


def conflict_warning(run_id: str, conflict: ParameterConflict, kept_in: str) -> str:
    """What proj tells the user about a parameter logged with another meaning."""
    return (f"run {run_id}: the project logged {conflict.name}={conflict.logged!r} while proj was given "
            f"{conflict.proj!r}; the MLflow parameter is the project's value, proj's is in {kept_in}")


def same_meaning(parameter: ParameterRecord, logged: str) -> bool:
    """Whether `logged` says what proj's typed value says (`5`, `5.0` and `5e0` for a float 5)."""
    texts = {given_text(parameter), parameter.rendered, str(parameter.value)}
    if logged in texts:
        return True
    if parameter.type in ("path", "uri", "string", "str"):
        return False
    typed: object
    try:
        typed = parse_typed(parameter.type, logged)
    except ValueError:
        typed = _number(logged)  # an int parameter the script logged as a float ("5.0")
    value: object = parameter.value
    if isinstance(value, bool) or isinstance(typed, bool):
        return bool(typed == value)
    if isinstance(typed, (int, float)) and isinstance(value, (int, float)):
        a, b = float(typed), float(value)
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return False


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
