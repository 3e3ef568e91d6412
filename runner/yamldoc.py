"""YAML documents that remember where each value came from.

MLflow reads MLproject files with `yaml.safe_load`, so proj does too (YAML 1.1: `1e-1` stays a
string, `yes` is True). On top of that, this module keeps the line and column of every key and
value so that a problem can point at the exact node, and refuses documents whose aliases would
make them explode in size or loop forever.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import SpecError
from runner.limits import SPEC_FILE_BYTES, Limit
from runner.problems import Problem, Severity

JsonPath = tuple[Any, ...]

# A document larger than this once aliases are expanded is refused ("billion laughs").
MAX_EXPANDED_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_INTEGER_DIGITS = 4000  # Python refuses to convert longer ones (sys.get_int_max_str_digits)


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, node: Node) -> Position:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


class YamlDocument:
    """The constructed data of one YAML file plus the position of each node in it."""

    def __init__(self, path: Path, text: str, data: Any, root: Node | None) -> None:
        self.path = path
        self.text = text
        self.data = data
        self._values: dict[JsonPath, Node] = {}
        self._keys: dict[JsonPath, Node] = {}
        self.duplicate_keys: list[tuple[JsonPath, Position]] = []
        if root is not None:
            self._index(root, ())

    def position(self, path: JsonPath) -> Position:
        """Where the value at `path` starts, or its nearest ancestor that exists."""
        for depth in range(len(path), -1, -1):
            node = self._values.get(tuple(path[:depth]))
            if node is not None:
                return Position.of(node)
        return Position(1, 1)

    def key_position(self, path: JsonPath) -> Position:
        """Where the key naming `path` starts (for unknown or misplaced keys)."""
        node = self._keys.get(tuple(path))
        return Position.of(node) if node is not None else self.position(path)

    def problem(self, path: JsonPath, message: str, *, severity: Severity = Severity.ERROR,
                at_key: bool = False) -> Problem:
        pos = self.key_position(path) if at_key else self.position(path)
        return Problem(self.path, pos.line, pos.column, severity, message)

    def duplicate_key_problems(self) -> list[Problem]:
        """A warning for each key written twice in one mapping (YAML keeps the last value)."""
        return [
            Problem(self.path, pos.line, pos.column, Severity.WARNING,
                    f"{describe_path(path)}: key written twice; the last value is used")
            for path, pos in self.duplicate_keys
        ]

    def source_text(self, path: JsonPath) -> str | None:
        """The scalar at `path` as written in the file (without quotes), or None if it is not a scalar."""
        node = self._values.get(tuple(path))
        return node.value if isinstance(node, ScalarNode) else None

    def locate_in_value(self, path: JsonPath, needle: str, occurrence: int = 0) -> Position:
        """Where the `occurrence`-th copy of `needle` appears inside the scalar at `path`.

        Searches the raw source text of the node, so it is exact for plain, quoted and block
        scalars unless escapes or folding changed the needle; then it falls back to the node.
        """
        node = self._values.get(tuple(path))
        if node is None:
            return self.position(path)
        raw = self.text[node.start_mark.index : node.end_mark.index]
        index = -1
        for _ in range(occurrence + 1):
            index = raw.find(needle, index + 1)
            if index < 0:
                return Position.of(node)
        absolute = node.start_mark.index + index
        line_start = self.text.rfind("\n", 0, absolute) + 1
        return Position(self.text.count("\n", 0, absolute) + 1, absolute - line_start + 1)

    def _index(self, root: Node, path: JsonPath) -> None:
        # Iterative walk; an aliased node is indexed only at its first path, which keeps the
        # walk linear in the number of distinct nodes.
        seen: set[int] = set()
        stack: list[tuple[Node, JsonPath]] = [(root, path)]
        while stack:
            node, where = stack.pop()
            self._values.setdefault(where, node)
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    key = _scalar_key(key_node)
                    child = where + (key,)
                    self._keys.setdefault(child, key_node)
                    stack.append((value_node, child))
            elif isinstance(node, SequenceNode):
                stack.extend((item, where + (i,)) for i, item in enumerate(node.value))


def describe_path(path: JsonPath) -> str:
    """`entry_points.main.parameters.alpha`-style text for a location in a document."""
    if not path:
        return "the top level"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_yaml(path: Path, limit: Limit = SPEC_FILE_BYTES) -> YamlDocument:
    """Read and parse a YAML file of at most `limit` bytes; any failure becomes a SpecError
    with its position."""
    raw = _read_bounded(path, limit)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - raw.rfind(b"\n", 0, err.start)
        message = f"file is not valid UTF-8 (byte 0x{raw[err.start]:02x}); save it as UTF-8"
        raise SpecError([Problem(path, line, column, Severity.ERROR, message)]) from None
    return parse_yaml(text, path)


def _read_bounded(path: Path, size_limit: Limit) -> bytes:
    """The file's bytes, refused before they are parsed when there are more than the limit (a
    huge file would take minutes and gigabytes to parse) or when it is not a regular file."""
    limit = size_limit.get()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise SpecError([Problem(path, 0, 0, Severity.ERROR, f"cannot read file: {err.strerror}")]) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecError([Problem(path, 0, 0, Severity.ERROR, "not a regular file")])
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        message = (f"file is larger than {limit} bytes, the limit on {size_limit.what}; "
                   f"make it smaller (or raise {size_limit.variable})")
        raise SpecError([Problem(path, 0, 0, Severity.ERROR, message)])
    return raw


def parse_yaml(text: str, path: Path) -> YamlDocument:
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
    document = YamlDocument(path, text, data, root)
    document.duplicate_keys = duplicates
    return document


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


def _duplicate_keys(root: Node) -> list[tuple[JsonPath, Position]]:
    """Keys written twice in one mapping (safe_load silently keeps the last one)."""
    found: list[tuple[JsonPath, Position]] = []
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
                    found.append((where + (key,), Position.of(key_node)))
                stack.append((value_node, where + (key,)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, where + (i,)) for i, item in enumerate(node.value))
    return sorted(found, key=lambda item: (item[1].line, item[1].column))


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
    pos = Position.of(node)
    return Problem(path, pos.line, pos.column, Severity.ERROR, message)
