"""A loaded project: its entry points and parameters, and the environment section it declares.

These are the frozen models `runner.spec` builds from an MLproject file. They live apart from
the parsing so that the modules that only use a project (parameters, commands, environment
kinds) do not depend on the parser.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Protocol

from runner.errors import UsageError
from runner.words import close_matches

if TYPE_CHECKING:
    from runner.problems import Problem

FALLBACK_RUNNERS = (".py", ".sh", ".R")


class EnvironmentSection(Protocol):
    """A project's environment section, as the environment kind that owns it reads it."""

    @property
    def section(self) -> str:
        """The MLproject key it comes from: python_env, conda_env, docker_env or a plugin's."""
        ...

    def summary(self) -> str:
        """One line for `proj info`."""
        ...

    def as_dict(self) -> dict[str, Any]:
        """Everything it declares, for `proj info --format json` ("kind" is the section)."""
        ...


class Parameter(NamedTuple):
    """A parameter an entry point declares."""

    name: str
    type: str  # as declared; see grammar.canonical_type for the behaviour
    default: str | int | float | bool | None = None
    description: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


class EntryPoint(NamedTuple):
    """An entry point: its command template and the parameters it declares."""

    name: str
    command: str
    parameters: tuple[Parameter, ...] = ()

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


class Project(NamedTuple):
    """A project as its MLproject (or the conventions without one) describes it."""

    root: Path
    spec_file: Path | None
    name: str | None
    entry_points: Mapping[str, EntryPoint] = MappingProxyType({})
    # The environment section the project declares (python_env, conda_env, docker_env or a
    # plugin kind's), as that kind's model; None when it declares none.
    environment: EnvironmentSection | None = None
    warnings: tuple[Problem, ...] = ()

    def entry_point(self, name: str) -> EntryPoint:
        """The named entry point, or MLflow's fallback for a `.py`/`.sh` script in the project."""
        if name in self.entry_points:
            return self.entry_points[name]
        if Path(name).suffix in FALLBACK_RUNNERS:
            return _script_entry_point(self.root, name)
        close = close_matches(name, list(self.entry_points), n=1)
        raise UsageError(
            f"Could not find {name!r} among entry points {_listed(sorted(self.entry_points))} "
            f"or interpret {name!r} as a runnable script (supported: {', '.join(FALLBACK_RUNNERS)})",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )


MAX_LISTED_NAMES = 20  # names shown in a message; a project may declare thousands


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:MAX_LISTED_NAMES])
    more = len(names) - MAX_LISTED_NAMES
    return f"[{shown}{f', ... and {more} more' if more > 0 else ''}]"


def _script_entry_point(root: Path, name: str) -> EntryPoint:
    """MLflow's fallback for a script inside the project given as the entry point."""
    if name.startswith("-"):
        raise UsageError(f"Entry point {name!r} starts with '-', which the interpreter would read as an option",
                         hint=f"write it as a path: -e ./{name}")
    script = root / name
    if not inside_folder(root, name):
        raise UsageError(f"Entry point {name!r} is outside the project folder {root}",
                         hint="a script run as an entry point must be part of the project")
    if not script.is_file():
        raise UsageError(f"Entry point {name!r} is a script name, but {script} does not exist")
    return EntryPoint(name, _script_command(name, script.suffix))


def _script_command(name: str, suffix: str) -> str:
    """MLflow's command for a script given as the entry point: python, $SHELL, or R's mlflow."""
    if suffix == ".py":
        return f"python {shlex.quote(name)}"
    if suffix == ".sh":
        return f"{os.environ.get('SHELL') or 'bash'} {shlex.quote(name)}"
    if shlex.quote(name) != name:
        # MLflow puts the name inside a double-quoted R expression, where the shell would still
        # expand `$(...)` and quotes would end it: only plain names are safe there.
        raise UsageError(f"Entry point {name!r}: an R script name may only use letters, digits and @%+=:,./-_",
                         hint="rename the script")
    return f"Rscript -e \"mlflow::mlflow_source('{name}')\" --args"


def inside_folder(root: Path, name: str) -> bool:
    """Whether `root/name`, with every symlink resolved, is still inside `root` (part of the project)."""
    try:
        return (root / name).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop
        return False
