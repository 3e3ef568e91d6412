"""Run filters in MLflow's search syntax, parsed once for every store and front end.

    metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'x' and status = 'FINISHED'

A filter is comparisons joined by AND (MLflow has no OR). Each names a metric (its last value),
a parameter, a tag or an attribute of the run, and compares it as MLflow does: metrics and the
time attributes with numbers; parameters, tags and the other attributes with quoted text (=, !=,
LIKE, ILIKE), IS [NOT] NULL for parameters and tags, IN (...) for text attributes. proj adds
numeric comparisons of parameters (`params.alpha > 0.1`: values that read as numbers) and a few
attributes of its own records (entry_point, sweep_id, exit_code, duration, ...).

This module is pure and knows no run record: the local store turns a RunFilter into SQL
(runner.tracking.local_query), the MLflow store into the server's filter plus what only proj can
check (runner.tracking.mlflow_query), and runner.runmatch checks one record in memory.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NoReturn, Union

from runner.errors import UsageError

Kind = Literal["metric", "param", "tag", "attribute"]
Value = Union[float, str, tuple[str, ...], None]

_PREFIXES: dict[str, Kind] = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
}
# Attributes compared as text, and as numbers (MLflow's times are milliseconds since the epoch;
# proj's duration is in seconds). entry_point and later are proj's own.
TEXT_ATTRIBUTES = ("run_id", "run_name", "user_id", "status", "entry_point", "sweep_id", "experiment", "source",
                   "commit", "backend")
NUMERIC_ATTRIBUTES = ("start_time", "end_time", "exit_code", "duration")
_ALIASES = {"created": "start_time", "Created": "start_time", "run name": "run_name", "Run name": "run_name",
            "Run Name": "run_name"}
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "LOST")

_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE")
_NULL_OPS = ("IS NULL", "IS NOT NULL")
_LIST_OPS = ("IN", "NOT IN")

_SPACE = re.compile(r"\s*")
_WORD = re.compile(r"[^\W\d]\w*")  # a prefix or a bare attribute name
_KEY = re.compile(r"[\w.]+")  # an unquoted key: letters, digits, _ and . (tags.mlflow.runName)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_OPERATOR = re.compile(r"<=|>=|!=|=|<|>|(?i:(?:NOT\s+IN|IN|I?LIKE|IS\s+NOT\s+NULL|IS\s+NULL)(?!\w))")
_AND = re.compile(r"(?i:AND)(?!\w)")
_OR = re.compile(r"(?i:OR)(?!\w)")


class FilterError(UsageError):
    """A filter that cannot be read; `position` is where in the text (0-based)."""

    def __init__(self, text: str, position: int, problem: str, *, hint: str | None = None) -> None:
        caret = " " * (position + 2) + "^"
        super().__init__(f"Invalid filter at column {position + 1}: {problem}\n  {text}\n{caret}",
                         hint=hint or "for example: metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'x'")
        self.text = text
        self.position = position
        self.problem = problem


@dataclass(frozen=True)
class Comparison:
    kind: Kind
    key: str  # the metric, parameter or tag name; for attributes the canonical name (created -> start_time)
    op: str  # upper case: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL
    value: Value  # a float for numeric comparisons, text, a tuple of texts for IN, None for IS NULL
    position: int = 0  # where it starts in the filter text

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, float)


@dataclass(frozen=True)
class RunFilter:
    text: str
    comparisons: tuple[Comparison, ...]

    def only(self, comparisons: tuple[Comparison, ...]) -> RunFilter:
        """The same text, keeping some of the comparisons (what a store leaves to `matches`)."""
        return RunFilter(self.text, comparisons)


@dataclass(frozen=True)
class OrderKey:
    """A sort key in MLflow's order_by syntax: `metrics.rmse DESC`, `params.alpha`, `start_time`."""

    kind: Kind
    key: str
    descending: bool | None  # None: not said (the caller's default applies)


def parse_filter(text: str) -> RunFilter:
    """Parse a filter; FilterError (a UsageError) says what is wrong and where."""
    reader = _Reader(text)
    comparisons: list[Comparison] = []
    reader.skip_space()
    while not reader.at_end():
        comparisons.append(_comparison(reader))
        reader.skip_space()
        if reader.at_end():
            break
        if reader.take(_OR):
            reader.fail("OR is not supported: MLflow's search syntax joins comparisons with AND only",
                        hint="run one search per alternative, or use IN ('a', 'b') for attributes",
                        at=reader.last)
        if not reader.take(_AND):
            reader.fail("expected AND or the end of the filter")
        reader.skip_space()
        if reader.at_end():
            reader.fail("expected a comparison after AND")
    return RunFilter(text, tuple(comparisons))


def parse_order_by(text: str) -> OrderKey:
    """`metrics.rmse DESC`, `params.alpha asc`, `start_time`: what to sort by, and which way."""
    reader = _Reader(text)
    reader.skip_space()
    if reader.at_end():
        reader.fail("expected what to sort by, e.g. metrics.rmse DESC", hint=None)
    kind, key = _identifier(reader)
    reader.skip_space()
    direction = reader.take(re.compile(r"(?i:ASC|DESC)(?!\w)"))
    reader.skip_space()
    if not reader.at_end():
        reader.fail("expected ASC, DESC or the end", hint="for example: metrics.rmse DESC")
    return OrderKey(kind, key, None if direction is None else direction.upper() == "DESC")


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.last = 0  # where the last token taken starts

    def at_end(self) -> bool:
        return self.at >= len(self.text)

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.at)
        self.at = match.end() if match else self.at

    def take(self, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self.text, self.at)
        if match is None:
            return None
        self.last, self.at = self.at, match.end()
        return match.group()

    def peek(self) -> str:
        return self.text[self.at:self.at + 1]

    def quoted(self, quote: str, what: str) -> str:
        """A quoted text at the current position; a doubled quote stands for itself."""
        start, index, parts = self.at, self.at + 1, []
        while True:
            end = self.text.find(quote, index)
            if end < 0:
                self.fail(f"{what} is not closed: add the missing {quote}", at=start)
            parts.append(self.text[index:end])
            if self.text.startswith(quote * 2, end):
                parts.append(quote)
                index = end + 2
                continue
            self.last, self.at = start, end + 1
            return "".join(parts)

    def fail(self, problem: str, *, hint: str | None = "", at: int | None = None) -> NoReturn:
        raise FilterError(self.text, self.at if at is None else at, problem, hint=hint or None)


def _comparison(reader: _Reader) -> Comparison:
    start = reader.at
    kind, key = _identifier(reader)
    name = _shown(kind, key)
    reader.skip_space()
    op_text = reader.take(_OPERATOR)
    if op_text is None:
        reader.fail(f"expected a comparison operator after {name} "
                    "(=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)")
    op = " ".join(op_text.upper().split())
    op_at = reader.last
    if op in _NULL_OPS:
        if kind not in ("param", "tag"):
            reader.fail(f"{op} applies to parameters and tags only, not to {name}", at=op_at)
        return Comparison(kind, key, op, None, start)
    reader.skip_space()
    if op in _LIST_OPS:
        if kind != "attribute" or key not in TEXT_ATTRIBUTES:
            reader.fail(f"{op} applies to the text attributes only ({', '.join(TEXT_ATTRIBUTES)}), not to {name}",
                        at=op_at)
        return Comparison(kind, key, op, _value_list(reader, key), start)
    return Comparison(kind, key, op, _value(reader, kind, key, op, op_at), start)


def _identifier(reader: _Reader) -> tuple[Kind, str]:
    start = reader.at
    if reader.peek() in ('"', "`"):  # a bare quoted attribute: "run name"
        return "attribute", _attribute(reader, reader.quoted(reader.peek(), "a quoted name"), start)
    word = reader.take(_WORD)
    if word is None:
        reader.fail("expected a name such as metrics.rmse, params.alpha, tags.team or status")
    if reader.peek() != ".":
        return "attribute", _attribute(reader, word, start)
    kind = _PREFIXES.get(word.lower())
    if kind is None:
        reader.fail(f"unknown kind {word!r}: expected metrics, params, tags or attributes before the dot", at=start)
    reader.at += 1
    key_at = reader.at
    if reader.peek() in ('"', "`", "'"):
        key = reader.quoted(reader.peek(), "a quoted name")
    else:
        key = reader.take(_KEY) or ""
    if not key:
        reader.fail(f"expected a name after {word}. (quote names with other characters: {word}.\"my-name\")",
                    at=key_at)
    return kind, _attribute(reader, key, key_at) if kind == "attribute" else key


def _attribute(reader: _Reader, name: str, at: int) -> str:
    name = _ALIASES.get(name, name)
    if name not in TEXT_ATTRIBUTES and name not in NUMERIC_ATTRIBUTES:
        reader.fail(f"unknown attribute {name!r}",
                    hint=f"attributes: {', '.join(TEXT_ATTRIBUTES + NUMERIC_ATTRIBUTES)}; "
                         "or metrics.NAME, params.NAME, tags.NAME", at=at)
    return name


def _value(reader: _Reader, kind: Kind, key: str, op: str, op_at: int) -> float | str:
    name = _shown(kind, key)
    numeric = kind == "metric" or kind == "attribute" and key in NUMERIC_ATTRIBUTES
    if numeric and op not in _NUMBER_OPS:
        reader.fail(f"{name} is a number: compare it with =, !=, <, <=, >, >=", at=op_at)
    if not numeric and kind != "param" and op not in _TEXT_OPS:
        nulls = ", IS NULL, IS NOT NULL" if kind == "tag" else ", IN, NOT IN"
        reader.fail(f"{name} is text: compare it with =, !=, LIKE, ILIKE{nulls}", at=op_at)
    number = reader.take(_NUMBER)
    if number is not None:
        if not numeric and kind != "param":
            reader.fail(f"{name} is text: quote the value ('{number}')", at=reader.last)
        if op not in _NUMBER_OPS:
            reader.fail(f"{op} compares text: quote the value ('{number}')", at=reader.last)
        return float(number)
    if reader.peek() in ("'", '"'):
        at = reader.at
        text = reader.quoted(reader.peek(), "the quoted value")
        if numeric:
            reader.fail(f"{name} is a number: write it without quotes", at=at)
        if op not in _TEXT_OPS:
            reader.fail(f"{op} compares numbers: write the value without quotes (a parameter compares as a "
                        "number when its value reads as one)", at=at)
        if kind == "attribute" and key == "status" and op in ("=", "!="):
            return _status(reader, text, at)
        return text
    reader.fail(f"expected {'a number' if numeric else 'a quoted value'} after {name} {op}"
                + ("" if numeric else " (quote text with ' or \")"))


def _value_list(reader: _Reader, key: str) -> tuple[str, ...]:
    if reader.peek() != "(":
        reader.fail("expected a list in parentheses: ('a', 'b')")
    reader.at += 1
    values: list[str] = []
    while True:
        reader.skip_space()
        if reader.peek() not in ("'", '"'):
            reader.fail("expected a quoted value in the list")
        at = reader.at
        text = reader.quoted(reader.peek(), "the quoted value")
        values.append(_status(reader, text, at) if key == "status" else text)
        reader.skip_space()
        if reader.peek() == ")":
            reader.at += 1
            return tuple(values)
        if reader.peek() != ",":
            reader.fail("expected , or ) in the list")
        reader.at += 1


def _status(reader: _Reader, text: str, at: int) -> str:
    if text.upper() not in STATUSES:
        reader.fail(f"unknown status {text!r}", hint=f"statuses: {', '.join(STATUSES)}", at=at)
    return text.upper()


def _shown(kind: Kind, key: str) -> str:
    plural = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}[kind]
    return f"{plural}.{key}" if _KEY.fullmatch(key) else f'{plural}."{key}"'


# --- comparing one value ---------------------------------------------------------------------


def compare(comparison: Comparison, actual: float | str | None) -> bool:
    """MLflow's rules: nothing matches a missing value but IS NULL; text compares exactly."""
    op, wanted = comparison.op, comparison.value
    if op in _NULL_OPS:
        return (actual is None) == (op == "IS NULL")
    if actual is None:
        return False
    if isinstance(wanted, tuple):
        return (actual in wanted) == (op == "IN")
    if isinstance(wanted, float):
        number = actual if isinstance(actual, float) else as_number(actual)
        return number is not None and _NUMERIC[op](number, wanted)
    if op in ("LIKE", "ILIKE"):
        return like_pattern(str(wanted), op == "ILIKE").fullmatch(str(actual)) is not None
    return (str(actual) == wanted) == (op == "=")


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def as_number(text: str) -> float | None:
    """A parameter value as a number, if it reads as one (with a digit: "nan" and "inf" stay text)."""
    if not any(c.isdigit() for c in text):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def like_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as MLflow reads it: % is any text, _ any one character, everything else itself."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
