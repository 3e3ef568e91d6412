"""Parameter values: `-P` parsing, type checks (runner.grammar), defaults, and the path rules.

Values are substituted as the user wrote them (MLflow-compatible); the typed value is kept for
the run record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

from runner.errors import ParameterError
from runner.grammar import Scalar, canonical_type, parse_typed
from runner.project import EntryPoint
from runner.words import close_matches

# An undeclared -P key becomes `--key value`; anything else could smuggle shell syntax.
_OPTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ResolvedParameter(NamedTuple):
    """A parameter's value for one run: typed, checked and rendered."""

    name: str
    type: str  # canonical type applied
    given: str | None  # the -P text, or None when the default was used
    value: Scalar  # the typed value (an absolute path for `path`)
    rendered: str  # the text substituted into the command, before shell quoting
    declared: bool  # False for extra -P keys, appended as `--key value`
    remote: bool = False  # a `path` given as an http(s) URL: downloaded before the run (runner.pathvalues)


@dataclass(frozen=True)
class ResolvedParams:
    """A run's parameters: the declared ones, then the extra -P keys."""

    declared: tuple[ResolvedParameter, ...]
    extra: tuple[ResolvedParameter, ...]

    def __iter__(self) -> Iterator[ResolvedParameter]:
        yield from self.declared
        yield from self.extra


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`-P name=value` options as an ordered dict; split at the first `=`."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParameterError(
                f"Invalid parameter {pair!r}: expected NAME=VALUE", hint="for example -P alpha=0.5"
            )
        if name in values:
            raise ParameterError(f"Repeated parameter: {name!r}")
        values[name] = value
    return values


def misspelt_parameters(entry_point: EntryPoint, names: Iterable[str]) -> list[str]:
    """For each undeclared name close to a declared one, a "did you mean" message.

    MLflow passes an undeclared `-P lrr=0.1` on as `--lrr 0.1` without a word, while the
    declared `lr` silently keeps its default; a near miss is far more often a typo than intended.
    """
    messages = []
    for name in names:
        close = closest_declared(entry_point, name)
        if close:
            messages.append(f"Parameter {name!r} is not declared by entry point {entry_point.name!r} and is "
                            f"passed as --{name}; did you mean {close!r}?")
    return messages


def closest_declared(entry_point: EntryPoint, name: str) -> str | None:
    """The declared parameter an undeclared `name` most likely misspells, if any."""
    declared = [p.name for p in entry_point.parameters]
    if name in declared:
        return None
    close = close_matches(name, declared, n=1)
    return close[0] if close else None


def resolve_parameters(
    entry_point: EntryPoint, given: dict[str, str], *, cwd: Path, project_root: Path
) -> ResolvedParams:
    """Type-check every value, apply defaults, and name every missing parameter at once."""
    missing = [p.name for p in entry_point.parameters if p.name not in given and p.required]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise ParameterError(f"No value given for missing parameters: {names}")
    declared = []
    for parameter in entry_point.parameters:
        if parameter.name in given:
            declared.append(_resolve(parameter.name, parameter.type, given[parameter.name], cwd, True))
        else:
            declared.append(_resolve(parameter.name, parameter.type, parameter.default, project_root, False))
    extra = []
    for name, value in given.items():
        if entry_point.parameter(name) is None:
            if not _OPTION_NAME.fullmatch(name):
                raise ParameterError(
                    f"Invalid parameter name {name!r}: an undeclared parameter is passed as "
                    f"`--{name} VALUE`, so its name may only use letters, digits, '_', '.' and '-'"
                )
            _resolve(name, "string", value, cwd, True)  # refuses what no program can receive (a NUL byte)
            extra.append(ResolvedParameter(name, "string", value, value, value, declared=False))
    return ResolvedParams(tuple(declared), tuple(extra))


def _resolve(name: str, type_name: str, raw: Scalar | None, base: Path, from_user: bool) -> ResolvedParameter:
    kind = canonical_type(type_name)
    try:
        value = parse_typed(kind, raw)
    except ValueError as err:
        origin = "" if from_user else " (from its default)"
        raise ParameterError(f"Parameter {name!r} expects {err}, got {_clipped(raw)}{origin}") from None
    rendered = str(raw)
    remote = kind == "path" and is_downloadable(rendered)
    if kind == "path" and not remote:
        value = rendered = _resolve_path(name, str(raw), base)
    return ResolvedParameter(name, kind, str(raw) if from_user else None, value, rendered, True, remote)


def is_downloadable(value: str) -> bool:
    """A `path` value proj downloads before the run (runner.pathvalues)."""
    return urlparse(value).scheme.lower() in ("http", "https")


def _clipped(value: object, width: int = 80) -> str:
    """A value as messages show it: its repr, cut short when long (a message is not a dump)."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}... ({len(str(value))} characters)"


def _resolve_path(name: str, raw: str, base: Path) -> str:
    """A local path that must exist, made absolute (user values from the current folder,
    defaults from the project folder, where their author meant them)."""
    if not raw:
        raise ParameterError(f"Parameter {name!r} is a path and must not be empty")
    parsed = urlparse(raw)
    if parsed.scheme == "file":
        raw = unquote(parsed.path)
    elif len(parsed.scheme) > 1:  # one letter would be a Windows drive
        raise ParameterError(
            f"Parameter {name!r} is a path, and proj downloads only http(s) URLs, not {raw!r}",
            hint="download it first and give the local path, or declare the parameter as type uri",
        )
    path = Path(os.path.expanduser(raw))
    absolute = path if path.is_absolute() else base / path
    if not absolute.exists():
        raise ParameterError(
            f"Got value {raw!r} for parameter {name!r}, but no such file or directory was found "
            f"(looked for {absolute})"
        )
    return os.path.normpath(absolute)
