"""Parsing YAML with PyYAML for runner.yamldoc: safe_load's reading plus each node's position,
duplicate keys, and the limits on aliases and integers. Imported only when a document is
parsed (PyYAML's import is a tenth of a `proj run`'s start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import SpecError
from runner.problems import Problem, Severity

# As runner.yamldoc names them (this module must not import it: yamldoc imports this one).
JsonPath = tuple[Any, ...]
Spot = tuple[int, int, int, int, "str | None"]  # line, column, start, end, a scalar's text
At = tuple[int, int]  # line, column (1-based)


class Parsed(NamedTuple):
    """A document as parsed: its data, where each value and key is, and the keys written twice."""

    data: Any
    values: dict[JsonPath, Spot]
    keys: dict[JsonPath, At]
    duplicates: list[tuple[JsonPath, At]]

# A document larger than this once aliases are expanded is refused ("billion laughs").
MAX_EXPANDED_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_INTEGER_DIGITS = 4000  # Python refuses to convert longer ones (sys.get_int_max_str_digits)


def index_nodes(root: Node) -> tuple[dict[JsonPath, Spot], dict[JsonPath, At]]:
    """Where each value (by path) and each mapping key is. Iterative walk; an aliased node is
    indexed only at its first path, which keeps the walk linear in the number of distinct nodes."""
    values: dict[JsonPath, Spot] = {}
    keys: dict[JsonPath, At] = {}
    seen: set[int] = set()
    stack: list[tuple[Node, JsonPath]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if where not in values:
            start, end = node.start_mark, node.end_mark
            values[where] = (start.line + 1, start.column + 1, start.index, end.index,
                             node.value if isinstance(node, ScalarNode) else None)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                child = where + (_scalar_key(key_node),)
                keys.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                stack.append((value_node, child))
        elif isinstance(node, SequenceNode):
            stack.extend((item, where + (i,)) for i, item in enumerate(node.value))
    return values, keys


def parse(text: str, path: Path) -> Parsed:
    try:
        loader = _Loader(text)  # checks every character up front
    except yaml.reader.ReaderError as err:
        raise SpecError([_reader_error_problem(err, text, path)]) from None
    try:
        root = loader.get_single_node()
        duplicates = _duplicate_keys(root) if root is not None else []
        if root is not None:
            _check_expanded_size(root, path)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        raise SpecError([_yaml_error_problem(err, path)]) from None
    except yaml.YAMLError as err:  # errors without a position (rare)
        raise SpecError([Problem(path, 0, 0, Severity.ERROR, f"invalid YAML: {err}")]) from None
    except RecursionError:  # PyYAML's composer and constructor recurse per nesting level
        raise SpecError([Problem(path, 0, 0, Severity.ERROR, "document nested too deeply")]) from None
    finally:
        loader.dispose()
    values, keys = index_nodes(root) if root is not None else ({}, {})
    return Parsed(data, values, keys, duplicates)


class _Loader(yaml.SafeLoader):
    """safe_load's loader, refusing integers too long for Python to convert (it raises a bare
    ValueError past 4300 digits) with the position of the offending value."""

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INTEGER_DIGITS:
            raise ConstructorError(None, None, f"integer with {digits} digits is too long (at most "
                                               f"{MAX_INTEGER_DIGITS})", node.start_mark)
        return int(super().construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _reader_error_problem(err: yaml.reader.ReaderError, text: str, path: Path) -> Problem:
    position = min(max(err.position, 0), len(text))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    message = f"invalid YAML: character U+{err.character:04X} is not allowed in YAML; remove it"
    return Problem(path, line, column, Severity.ERROR, message)


def _yaml_error_problem(err: yaml.MarkedYAMLError, path: Path) -> Problem:
    mark = err.problem_mark or err.context_mark
    context = err.context or ""
    if err.context and err.context_mark is not None and err.context_mark is not mark:
        context += f" (started at line {err.context_mark.line + 1}, column {err.context_mark.column + 1})"
    message = "invalid YAML: " + ", ".join(p for p in (context, err.problem) if p)
    if mark is None:
        return Problem(path, 0, 0, Severity.ERROR, message)
    return Problem(path, mark.line + 1, mark.column + 1, Severity.ERROR, message)


_KEY_CONSTRUCTOR = SafeConstructor()


def _scalar_key(node: Node) -> Any:
    """The Python value of a mapping key node, as safe_load would build it."""
    if isinstance(node, ScalarNode):
        try:
            return _KEY_CONSTRUCTOR.construct_object(node)
        except (ValueError, yaml.YAMLError):  # an integer too long to convert, a bad timestamp
            return str(node.value)
    return f"<{'mapping' if isinstance(node, MappingNode) else 'sequence'} key>"


def _duplicate_keys(root: Node) -> list[tuple[JsonPath, At]]:
    """Keys written twice in one mapping (safe_load silently keeps the last one)."""
    found: list[tuple[JsonPath, At]] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[Node, JsonPath]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    continue  # a merge may legitimately be overridden by a local key
                key = _scalar_key(key_node)
                try:
                    is_duplicate = key in keys
                    keys.add(key)
                except TypeError:  # unhashable; safe_load reports it itself
                    continue
                if is_duplicate:
                    found.append((where + (key,), _at(key_node)))
                stack.append((value_node, where + (key,)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, where + (i,)) for i, item in enumerate(node.value))
    return sorted(found, key=lambda item: item[1])


def _check_expanded_size(root: Node, path: Path) -> None:
    """Refuse alias bombs and self-referencing documents before anything walks the data."""
    sizes: dict[int, int] = {}
    on_stack: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_stack:
            raise SpecError([_problem_at(node, path, "a YAML alias refers to itself")])
        on_stack.add(key)
        total = 1
        if isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            total += sum(size(item) for item in node.value)
        on_stack.discard(key)
        if total > MAX_EXPANDED_NODES:
            message = f"document too large once its aliases are expanded (over {MAX_EXPANDED_NODES} values)"
            raise SpecError([_problem_at(node, path, message)])
        sizes[key] = total
        return total

    try:
        size(root)
    except RecursionError:
        raise SpecError([_problem_at(root, path, "document nested too deeply")]) from None


def _problem_at(node: Node, path: Path, message: str) -> Problem:
    line, column = _at(node)
    return Problem(path, line, column, Severity.ERROR, message)


def _at(node: Node) -> At:
    return node.start_mark.line + 1, node.start_mark.column + 1
