"""Check a YAML document against one of proj's JSON schemas and report positioned problems.

Unknown keys are warnings, not errors: MLflow ignores them, so refusing them would break
existing projects. Everything else the schema rejects is an error.

Importing jsonschema costs about 70 ms, half of proj's start-up budget, so a document that
passed once is remembered by content hash under `$PROJ_HOME/cache/schema-ok/` and not checked
again; anything with a problem is always checked afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runner.errors import SpecError
from runner.locations import cache_dir
from runner.problems import Problem, Severity
from runner.resources import load_schema, schema_bytes
from runner.version import __version__
from runner.words import close_matches, plural
from runner.yamldoc import JsonPath, YamlDocument, describe_path, read_yaml

try:  # CPython's own BLAKE2: importing hashlib also loads OpenSSL, ~4 ms of every start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another interpreter
    from hashlib import blake2b

if TYPE_CHECKING:  # jsonschema itself is imported only when a document is checked
    from jsonschema.exceptions import ValidationError


class Schema(NamedTuple):
    """A schema to check against: bytes that identify it (for the cache), and how to load it."""

    identity: bytes
    load: Callable[[], dict[str, Any]]


def named_schema(name: str) -> Schema:
    """One of proj's schema files (schemas/NAME.schema.json)."""
    return Schema(schema_bytes(name), lambda: load_schema(name))


def check_against_schema(document: YamlDocument, schema: str | Schema) -> list[Problem]:
    schema = named_schema(schema) if isinstance(schema, str) else schema
    marker = _passed_marker(document, schema)
    if marker is not None and marker.exists():
        return []
    problems = _validate(document, schema)
    if not problems and marker is not None:
        try:
            marker.touch()
        except OSError:
            pass  # the cache is an optimisation; a read-only home must not fail a run
    return problems


def read_checked(path: Path, schema: str | Schema) -> tuple[YamlDocument | None, list[Problem]]:
    """A YAML file and every problem its schema finds (None when it cannot be read or is empty)."""
    try:
        document = read_yaml(path)
    except SpecError as err:
        return None, err.problems
    if document.data is None:
        return None, [document.problem((), "file is empty")]
    problems = check_against_schema(document, schema)
    problems += document.duplicate_key_problems()
    return document, problems


def _passed_marker(document: YamlDocument, schema: Schema) -> Path | None:
    digest = blake2b(digest_size=32)
    for part in (__version__.encode(), schema.identity, document.text.encode()):
        digest.update(part)
        digest.update(b"\0")
    try:
        return cache_dir("cache", "schema-ok") / digest.hexdigest()
    except OSError:
        return None


def _validate(document: YamlDocument, schema: Schema) -> list[Problem]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema.load())
    problems: list[Problem] = []
    for error in validator.iter_errors(document.data):
        problems.extend(_problems_from(error, document))
    return sorted(problems, key=lambda p: (p.line, p.column, p.message))


class _Failure(NamedTuple):
    """What proj reads from a jsonschema ValidationError, whose fields the library types as
    possibly unset (they are always set on the errors a validator yields)."""

    keyword: str  # the schema keyword that failed: "type", "required", ...
    expected: Any  # that keyword's value in the schema
    instance: Any  # the document's value that failed
    schema: Mapping[str, Any]  # the (sub)schema holding the keyword
    message: str  # jsonschema's own wording, the fallback

    @classmethod
    def of(cls, error: ValidationError) -> _Failure:
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        return cls(str(error.validator), error.validator_value, error.instance, schema, error.message)


def _problems_from(error: ValidationError, document: YamlDocument) -> list[Problem]:
    path = tuple(error.absolute_path)
    failure = _Failure.of(error)
    if failure.keyword == "additionalProperties":
        return [_unknown_key(document, path, key, failure.schema) for key in _unknown_keys(failure)]
    if failure.keyword in ("if", "then", "else", "anyOf", "oneOf") and error.context:
        from jsonschema.exceptions import best_match

        return _problems_from(best_match(error.context), document)
    message = f"{describe_path(path)}: {_explain(failure)}"
    # A schema may attach advice to a type mismatch that has a well-known cause.
    hint = failure.schema.get("x-type-hint") if failure.keyword == "type" else None
    if hint:
        message += f" ({hint})"
    return [document.problem(path, message)]


def _unknown_keys(failure: _Failure) -> list[Any]:
    allowed = set(failure.schema.get("properties", {}))
    return [key for key in failure.instance if key not in allowed]


def _unknown_key(document: YamlDocument, path: JsonPath, key: Any, schema: Mapping[str, Any]) -> Problem:
    allowed = sorted(schema.get("properties", {}))
    message = f"unknown key '{key}' in {describe_path(path)}"
    close = close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean '{close[0]}'?"
    elif allowed:
        message += f" (expected one of: {', '.join(allowed)})"
    return document.problem(path + (key,), message, severity=Severity.WARNING, at_key=True)


_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}


def _explain(failure: _Failure) -> str:
    kind, instance, expected = failure.keyword, failure.instance, failure.expected
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, got {_describe(instance)}"
    if kind == "required":
        missing = [key for key in expected if key not in instance]
        return f"missing required key '{missing[0]}'" if missing else failure.message
    if kind == "minLength":
        return "must not be empty"
    if kind == "pattern" and "x-pattern-hint" in failure.schema:  # a regex means little to a user
        return f"{_describe(instance)} is not valid: {failure.schema['x-pattern-hint']}"
    if kind in ("minItems", "maxItems") and isinstance(instance, list):
        return f"expected a [NAME, value] pair (2 items), got {plural(len(instance), 'item')}"
    return failure.message


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
