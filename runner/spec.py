"""MLproject files: find, parse, validate, and turn into frozen typed objects.

`inspect_project` collects every problem (for `proj validate`); `load_project` returns the
model or raises SpecError (for `proj run`). Nothing downstream of this module sees raw YAML.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from runner.environments import registry
from runner.environments.kind import EnvironmentKind
from runner.errors import SpecError
from runner.grammar import KNOWN_TYPES, Placeholder, canonical_type, parse_typed, placeholders
from runner.problems import Problem, Severity
from runner.project import EntryPoint, EnvironmentSection, Parameter, Project
from runner.resources import load_schema, schema_bytes
from runner.schema_check import Schema, check_against_schema
from runner.words import close_matches
from runner.yamldoc import JsonPath, YamlDocument, describe_path, read_yaml

SPEC_FILE_NAME = "MLproject"

__all__ = ["EntryPoint", "Inspection", "Parameter", "Project", "find_spec_file", "inspect_path", "inspect_project",
           "load_project"]


class Inspection(NamedTuple):
    """What `proj validate` needs: the model when there is one, and every problem found."""

    project: Project | None
    problems: tuple[Problem, ...]

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)


def find_spec_file(root: Path) -> Path | None:
    """The MLproject file in `root`, matched case-insensitively as MLflow does."""
    try:
        matches = sorted(p for p in root.iterdir() if p.name.lower() == SPEC_FILE_NAME.lower())
    except OSError:
        return None
    matches = [p for p in matches if p.is_file()]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise SpecError([Problem(root, 0, 0, Severity.ERROR, f"several MLproject files: {names}")])
    return matches[0] if matches else None


# Folders `find_project_folders` does not enter: hidden ones (.git, .proj, .venv), and caches.
_NOT_PROJECTS = {"node_modules", "__pycache__", "site-packages"}


def find_project_folders(root: Path) -> list[Path]:
    """Every folder at or below `root` holding an MLproject file, in path order; hidden folders,
    virtual environments and caches are not entered, and links are not followed."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in _NOT_PROJECTS)
        if "pyvenv.cfg" in files:  # a virtual environment: its packages are not the user's projects
            subfolders[:] = []
            continue
        if any(name.lower() == SPEC_FILE_NAME.lower() for name in files):
            found.append(Path(folder))
    return sorted(found, key=lambda path: path.parts)


def load_project(path: Path, *, strict: bool = False) -> Project:
    """The validated project at `path` (a folder or an MLproject file), or SpecError."""
    inspection = inspect_project(path, require_spec_file=False)
    problems = [p.promoted() if strict else p for p in inspection.problems]
    if any(p.is_error for p in problems) or inspection.project is None:
        raise SpecError(problems)
    return inspection.project


def inspect_path(path: Path) -> Inspection:
    """Validate what `path` is: a project folder, an MLproject file, or an environment file.

    Environment files are accepted on their own so that a pre-commit hook can pass any file
    that changed; the built-in kinds say which files are theirs.
    """
    if path.is_dir() or path.name.lower() == SPEC_FILE_NAME.lower():
        return inspect_project(path)
    for kind in registry.builtin_kinds():
        problems = kind.inspect_file(path)
        if problems is not None:
            return Inspection(None, tuple(problems))
    message = "not an MLproject, python_env.yaml or conda environment file"
    return Inspection(None, (Problem(path, 0, 0, Severity.ERROR, message),))


def inspect_project(path: Path, *, require_spec_file: bool = True) -> Inspection:
    """Every problem in the project at `path`, and its model when it has no errors."""
    root, spec_file = _locate(path)
    if spec_file is None:
        if require_spec_file:
            return Inspection(None, (Problem(path, 0, 0, Severity.ERROR, "no MLproject file found"),))
        environment, problems = _conventional_environment(root)
        return _finish(Project(root, None, None, environment=environment), problems)
    try:
        document = read_yaml(spec_file)
    except SpecError as err:
        return Inspection(None, tuple(err.problems))
    if document.data is None:
        warning = document.problem((), "file is empty: the project declares no entry points",
                                   severity=Severity.WARNING)
        environment, problems = _conventional_environment(root)
        problems.insert(0, warning)
        return _finish(Project(root, spec_file, None, environment=environment), problems)
    _read_as_mlflow_does(document)
    problems = check_against_schema(document, mlproject_schema(document.data))
    problems += document.duplicate_key_problems()
    if any(p.is_error for p in problems):
        return Inspection(None, tuple(sorted(problems, key=lambda p: (p.line, p.column))))
    return _build(document, root, spec_file, problems)


def _read_as_mlflow_does(document: YamlDocument) -> None:
    """Turn scalars MLflow only ever uses as text into that text, before the schema sees them.

    YAML reads `2020-01-01` as a date and `name: 42` as a number; MLflow str()s such values
    wherever it uses them, so a date renders as `2020-01-01`. A non-text name keeps its source
    text (`name: 1.10` stays `1.10`, not the float's `1.1`).
    """
    data = document.data
    if not isinstance(data, dict):
        return
    # A YAML reader that made dates has imported datetime; without it no value here is a date,
    # and a run need not import it (start-up budget: a kept parse holds no dates, runner.yamlparse).
    datetime = sys.modules.get("datetime")
    date: type | tuple[type, ...] = datetime.date if datetime is not None else ()
    name = data.get("name")
    if isinstance(name, (int, float)) or isinstance(name, date):  # bool is an int
        data["name"] = document.source_text(("name",)) or str(name)
    seen: set[int] = set()
    stack: list[Any] = [data]
    while stack:  # aliases may share containers: each is visited once
        container = stack.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items):
            if isinstance(value, date):
                container[key] = str(value)  # what MLflow's str() renders
            elif isinstance(value, (dict, list)):
                stack.append(value)


def _locate(path: Path) -> tuple[Path, Path | None]:
    if path.is_file():
        return path.parent, path
    return path, find_spec_file(path)


def _finish(project: Project, problems: list[Problem]) -> Inspection:
    problems = sorted(problems, key=lambda p: (str(p.file), p.line, p.column))
    if any(p.is_error for p in problems):
        return Inspection(None, tuple(problems))
    return Inspection(_with_warnings(project, problems), tuple(problems))


def _with_warnings(project: Project, problems: list[Problem]) -> Project:
    return Project(project.root, project.spec_file, project.name, project.entry_points,
                   project.environment, tuple(problems))


def _build(document: YamlDocument, root: Path, spec_file: Path, problems: list[Problem]) -> Inspection:
    data: dict[str, Any] = document.data
    entry_points = {}
    for name, raw in (data.get("entry_points") or {}).items():
        if not isinstance(name, str):
            problems.append(document.problem(("entry_points", name),
                                             f"entry point name {name!r} must be a string; quote it",
                                             at_key=True))
            continue
        entry_point, found = _entry_point(document, name, raw)
        entry_points[name] = entry_point
        problems += found
    environment, found = _environment(document, root)
    problems += found
    project = Project(root, spec_file, data.get("name"), MappingProxyType(entry_points), environment)
    return _finish(project, problems)


def _entry_point(document: YamlDocument, name: str, raw: dict[str, Any]) -> tuple[EntryPoint, list[Problem]]:
    where = ("entry_points", name)
    problems: list[Problem] = []
    parameters = []
    for param_name, spec in (raw.get("parameters") or {}).items():
        path = where + ("parameters", param_name)
        if not isinstance(param_name, str):
            problems.append(document.problem(path, f"parameter name {param_name!r} must be a string; quote it",
                                             at_key=True))
            continue
        parameter = _parameter(param_name, spec)
        problems += _check_parameter(document, path, parameter, spec)
        parameters.append(parameter)
    entry_point = EntryPoint(name, raw["command"], tuple(parameters))
    problems += _check_placeholders(document, where + ("command",), entry_point)
    return entry_point, problems


def _parameter(name: str, spec: str | dict[str, Any]) -> Parameter:
    if isinstance(spec, str):
        return Parameter(name, spec)
    return Parameter(name, spec.get("type", "string"), spec.get("default"), spec.get("description"))


def _check_parameter(document: YamlDocument, path: JsonPath, parameter: Parameter,
                     spec: str | dict[str, Any]) -> list[Problem]:
    problems = []
    type_path = path if isinstance(spec, str) else path + ("type",)
    if parameter.type not in KNOWN_TYPES:
        message = (f"{describe_path(path)}: unknown type {parameter.type!r}, treated as string "
                   f"(known types: {', '.join(KNOWN_TYPES)})")
        close = close_matches(parameter.type, KNOWN_TYPES + ("integer", "boolean"), n=1)
        if close:
            message += f"; did you mean {_TYPE_SUGGESTION.get(close[0], close[0])!r}?"
        problems.append(document.problem(type_path, message, severity=Severity.WARNING))
    kind = canonical_type(parameter.type)
    if parameter.default is not None and kind != "path":
        try:
            parse_typed(kind, parameter.default)
        except ValueError as err:
            problems.append(document.problem(
                path + ("default",),
                f"{describe_path(path + ('default',))}: default {parameter.default!r} is not {err}",
            ))
    return problems


_TYPE_SUGGESTION = {"integer": "int", "boolean": "bool"}


def _check_placeholders(document: YamlDocument, path: JsonPath, entry_point: EntryPoint) -> list[Problem]:
    where = describe_path(path)
    try:
        found = placeholders(entry_point.command)
    except ValueError as err:
        return [document.problem(path, f"{where}: invalid placeholder syntax ({err}); "
                                       "write '{{' and '}}' for literal braces")]
    declared = [p.name for p in entry_point.parameters]
    problems = []
    seen: dict[str, int] = {}
    for placeholder in found:
        occurrence = seen.get(placeholder.text, 0)
        seen[placeholder.text] = occurrence + 1
        message = _placeholder_problem(placeholder, entry_point.name, declared)
        if message:
            pos = document.locate_in_value(path, placeholder.text, occurrence)
            problems.append(Problem(document.path, pos.line, pos.column, Severity.ERROR, f"{where}: {message}"))
    return problems


def _placeholder_problem(placeholder: Placeholder, entry_point: str, declared: list[str]) -> str | None:
    name, text = placeholder.name, placeholder.text
    if placeholder.conversion:
        return (f"placeholder '{text}' uses the conversion '!{placeholder.conversion}', which would undo the "
                f"shell quoting of the value; write '{{{name}}}'")
    if placeholder.spec:
        return (f"placeholder '{text}' uses the format spec ':{placeholder.spec}'; values are substituted as "
                f"text, so write '{{{name}}}'")
    if name in declared:
        return None
    if not name or name.isdigit():
        return f"placeholder '{text}' must name a parameter, as in '{{alpha}}'"
    if any(c in name for c in ".["):
        return f"placeholder '{text}' uses attribute or index access; only '{{name}}' is substituted"
    listing = ", ".join(declared) if declared else "none"
    message = f"placeholder '{text}' names no parameter of entry point '{entry_point}' (declared: {listing})"
    close = close_matches(name, declared, n=1)
    return message + (f"; did you mean '{{{close[0]}}}'?" if close else "")


def mlproject_schema(data: Any) -> Schema:
    """The schema to check the MLproject `data` against: proj's core schema with the section
    schema of each environment kind added.

    Plugin kinds are looked up only when the document has a top-level key that is neither core
    nor a built-in kind's section, so ordinary projects never scan the installed plugins."""
    keys = {key for key in data if isinstance(key, str)} if isinstance(data, dict) else set()
    return composed_schema(_section_kinds(keys))


def complete_mlproject_schema() -> dict[str, Any]:
    """The MLproject schema with the section of every installed kind (for editors)."""
    return composed_schema(registry.all_kinds()).load()


def composed_schema(kinds: tuple[EnvironmentKind, ...]) -> Schema:
    fragments = {kind.section: kind.section_schema() or {} for kind in kinds if kind.section}
    identity = schema_bytes("mlproject") + json.dumps(fragments, sort_keys=True, default=str).encode()

    def composed() -> dict[str, Any]:
        schema = copy.deepcopy(load_schema("mlproject"))
        for section, fragment in fragments.items():
            # An $id of its own keeps a fragment's "#/$defs/..." references inside the fragment.
            schema["properties"][section] = {"$id": f"urn:proj:environment-section:{section}", **fragment}
        return schema

    return Schema(identity, composed)


def _section_kinds(keys: set[str]) -> tuple[EnvironmentKind, ...]:
    known = set(registry.CORE_KEYS) | set(registry.builtin_sections())
    return registry.builtin_kinds() if keys <= known else registry.all_kinds()


def _environment(document: YamlDocument, root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
    data = document.data
    present = [(key, kind) for key in data if isinstance(key, str) for kind in [registry.kind_for_section(key)] if kind]
    if len(present) > 1:
        order = sorted((key for key, _ in present), key=lambda key: document.key_position((key,)).line)
        sections = [kind.section for kind in _section_kinds(set(order)) if kind.section]
        listing = ", ".join(sections[:-1]) + f" and {sections[-1]}"
        return None, [
            document.problem((key,), f"only one of {listing} may be given; found {' and '.join(order)}", at_key=True)
            for key in order[1:]
        ]
    if not present:
        return _conventional_environment(root)
    return present[0][1].read_section(document, root)


def _conventional_environment(root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
    """MLflow's fallback: python_env.yaml, then conda.yaml, in the project root (built-in kinds only)."""
    for kind in registry.builtin_kinds():
        found = kind.conventional_section(root)
        if found is not None:
            return found
    return None, []
