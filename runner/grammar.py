"""The small grammar inside MLproject values: parameter types and `{name}` placeholders.

A leaf module (standard library only) because three modules need it: `spec` checks defaults and
placeholders while loading, `params` converts `-P` values, `command` substitutes them.
MLflow checks only `path` and `uri`; proj also checks `float`, `int` and `bool`, so that a typo
fails before anything runs instead of deep inside a training script.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import NamedTuple
from urllib.parse import urlparse

KNOWN_TYPES = ("string", "str", "float", "int", "bool", "path", "uri")
_TYPE_ALIASES = {"str": "string"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_INT = re.compile(r"[+-]?\d+")
# Fixed by what stores and most programs hold: SQLite and MLflow keep 64-bit integers.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# What a parameter value can be: YAML gives defaults as scalars, -P gives text, typing gives the rest.
Scalar = str | int | float | bool


def canonical_type(declared: str) -> str:
    """The type proj applies: `str` means `string`; an unknown name behaves as `string`."""
    declared = _TYPE_ALIASES.get(declared, declared)
    return declared if declared in KNOWN_TYPES else "string"


def parse_typed(type_name: str, value: object) -> Scalar:
    """Convert a `-P` string or a YAML default to the parameter's type.

    Raises ValueError naming what was expected ("a float") when the value does not fit.
    `path` values are returned as text, unchanged: where they resolve depends on who gave them.
    """
    if isinstance(value, str) and "\0" in value:  # from a default, a run card or the Python API
        raise ValueError("a value without NUL bytes (no program can receive one)")
    kind = canonical_type(type_name)
    if kind == "float":
        return _float(value)
    if kind == "int":
        return _int(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError("a bool (true/false, yes/no, on/off, 1/0)")
    if kind == "uri" and not urlparse(str(value)).scheme:
        raise ValueError("a URI with a scheme (such as s3://, https:// or file://)")
    return str(value)


def _int(value: object) -> int:
    """A whole number that fits in 64 bits (what SQLite, MLflow and most programs hold)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        digits = value.strip().lstrip("+-")
        # Longer text is out of range anyway, and int() refuses more than 4300 digits.
        number = int(value) if len(digits) <= 20 else INT64_MAX + 1
    else:
        raise ValueError("an int (a whole number)")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"an int from {INT64_MIN} to {INT64_MAX} (what a 64-bit integer holds)")
    return number


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a float")
    try:
        return float(value)
    except ValueError:
        raise ValueError("a float") from None


class Placeholder(NamedTuple):
    """A `{name}` field of an entry point's command."""

    text: str  # as written, e.g. "{alpha}" or "{alpha!r}"
    name: str  # the field name, e.g. "alpha"
    conversion: str = ""  # "r" in "{alpha!r}": refused, it would undo the shell quoting
    spec: str = ""  # ">9" in "{alpha:>9}": refused, it would pad, crash or fill memory


def placeholders(command: str) -> list[Placeholder]:
    """The `{name}` fields of a command; ValueError (with Python's reason) if braces are unbalanced.

    `{{` and `}}` are literal braces and are not placeholders.
    """
    found = []
    for _literal, field, spec, conversion in Formatter().parse(command):
        if field is None:
            continue
        text = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        found.append(Placeholder(text, field, conversion or "", spec or ""))
    return found
