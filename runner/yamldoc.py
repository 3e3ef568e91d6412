"""YAML documents that remember where each value came from.

MLflow reads MLproject files with `yaml.safe_load`, so proj does too (YAML 1.1: `1e-1` stays a
string, `yes` is True). On top of that, this module keeps the line and column of every key and
value so that a problem can point at the exact node, and refuses documents whose aliases would
make them explode in size or loop forever.

A file that parsed once is kept parsed (data and positions, by content) under
`$PROJ_HOME/cache/yaml/`, so that reading it again does not import PyYAML: its import is a
tenth of a `proj run`'s start-up (docs/benchmarks.md).
"""

from __future__ import annotations

import marshal
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runner.atomicfile import write_atomically
from runner.errors import SpecError
from runner.limits import SPEC_FILE_BYTES, Limit
from runner.locations import cache_dir
from runner.problems import Problem, Severity
from runner.version import __version__

if TYPE_CHECKING:
    from yaml.nodes import Node

try:  # CPython's own BLAKE2: importing hashlib also loads OpenSSL
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another interpreter
    from hashlib import blake2b

JsonPath = tuple[Any, ...]
# Where a node is: line and column (1-based), its start and end in the text, and for a scalar
# the text it was written as (None for a mapping or sequence).
Spot = tuple[int, int, int, int, "str | None"]


class Position(NamedTuple):
    """A place in a YAML file."""

    line: int  # 1-based
    column: int  # 1-based


class YamlDocument:
    """The constructed data of one YAML file plus the position of each node in it."""

    def __init__(self, path: Path, text: str, data: Any, root: Node | None) -> None:
        self.path = path
        self.text = text
        self.data = data
        self._values: dict[JsonPath, Spot] = {}
        self._keys: dict[JsonPath, tuple[int, int]] = {}
        self.duplicate_keys: list[tuple[JsonPath, Position]] = []
        if root is not None:
            from runner.yamlparse import index_nodes

            self._values, self._keys = index_nodes(root)

    def position(self, path: JsonPath) -> Position:
        """Where the value at `path` starts, or its nearest ancestor that exists."""
        for depth in range(len(path), -1, -1):
            spot = self._values.get(tuple(path[:depth]))
            if spot is not None:
                return Position(spot[0], spot[1])
        return Position(1, 1)

    def key_position(self, path: JsonPath) -> Position:
        """Where the key naming `path` starts (for unknown or misplaced keys)."""
        spot = self._keys.get(tuple(path))
        return Position(*spot) if spot is not None else self.position(path)

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
        spot = self._values.get(tuple(path))
        return spot[4] if spot is not None else None

    def locate_in_value(self, path: JsonPath, needle: str, occurrence: int = 0) -> Position:
        """Where the `occurrence`-th copy of `needle` appears inside the scalar at `path`.

        Searches the raw source text of the node, so it is exact for plain, quoted and block
        scalars unless escapes or folding changed the needle; then it falls back to the node.
        """
        spot = self._values.get(tuple(path))
        if spot is None:
            return self.position(path)
        line, column, start, end, _ = spot
        raw = self.text[start:end]
        index = -1
        for _ in range(occurrence + 1):
            index = raw.find(needle, index + 1)
            if index < 0:
                return Position(line, column)
        absolute = start + index
        line_start = self.text.rfind("\n", 0, absolute) + 1
        return Position(self.text.count("\n", 0, absolute) + 1, absolute - line_start + 1)

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
    kept = _kept(path, text)
    if kept is not None:
        return kept
    document = parse_yaml(text, path)
    _keep(document)
    return document


def _kept_file(text: str) -> Path | None:
    digest = blake2b(f"{__version__}\0{text}".encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
    try:
        return cache_dir("cache", "yaml") / digest
    except OSError:
        return None


def _kept(path: Path, text: str) -> YamlDocument | None:
    """The document parsed from `text` before, if it was kept (anything amiss: parse again)."""
    kept = _kept_file(text)
    try:
        with open(kept, "rb") as handle:  # type: ignore[arg-type]  # None: TypeError, parsed again
            kept_text, data, values, keys, duplicates = marshal.load(handle)
    except (OSError, TypeError, ValueError, EOFError):
        return None
    if kept_text != text:
        return None
    return _document(path, text, data, values, keys, duplicates)


def _keep(document: YamlDocument) -> None:
    """Keep a parsed document for the next read, when marshal can hold its data (not dates)."""
    kept = _kept_file(document.text)
    try:
        duplicates = [(where, (at.line, at.column)) for where, at in document.duplicate_keys]
        content = marshal.dumps((document.text, document.data, document._values, document._keys, duplicates))
    except ValueError:  # a date, or another value marshal does not hold
        return
    if kept is None:
        return
    try:
        write_atomically(kept, content)  # whole or absent: a concurrent reader never sees half of it
    except OSError:
        pass  # the cache is an optimisation; a read-only home must not fail


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
    """`text` parsed as safe_load parses it, with the position of every node; a SpecError with
    its position when it is not valid YAML or too large once its aliases are expanded."""
    from runner.yamlparse import parse

    return _document(path, text, *parse(text, path))


def _document(path: Path, text: str, data: Any, values: dict[JsonPath, Spot], keys: dict[JsonPath, tuple[int, int]],
              duplicates: list[tuple[JsonPath, tuple[int, int]]]) -> YamlDocument:
    document = YamlDocument(path, text, data, None)
    document._values, document._keys = values, keys
    document.duplicate_keys = [(where, Position(*at)) for where, at in duplicates]
    return document
