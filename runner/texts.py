"""Text that proj records and prints must be UTF-8.

On Linux, command-line arguments, environment variables and file names are bytes. Python hands
bytes that are not UTF-8 over as "surrogate escapes" (`\udcff`), which no store, JSON document or
terminal can take. proj refuses them where they come in, naming where they were, instead of
failing half-way through recording a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runner.errors import UsageError

_ESCAPED = re.compile("[\udc80-\udcff]")
_HINT = "proj records names, values and paths as UTF-8 text; use UTF-8 (rename the file or folder if need be)"


def is_utf8(text: str) -> bool:
    """False when `text` holds bytes that were not UTF-8 (as surrogate escapes)."""
    return _ESCAPED.search(text) is None


def shown(text: str) -> str:
    """The original bytes of `text`, as a Python bytes literal (`b'x=\\xff'`)."""
    return repr(os.fsencode(text))


def check_arguments(arguments: Sequence[str]) -> None:
    """Refuse a command line with an argument that is not UTF-8, naming its option."""
    for index, argument in enumerate(arguments):
        if is_utf8(argument):
            continue
        option, _, _ = argument.partition("=") if argument.startswith("--") else ("", "", "")
        if not option and index and arguments[index - 1].startswith("-"):
            option = arguments[index - 1]
        where = f"the value of {option}" if option else f"argument {index + 1}"
        raise UsageError(f"{where} is not valid UTF-8 text: {shown(argument)}", hint=_HINT)


def check_environment(environ: Mapping[str, str], names: Sequence[str]) -> None:
    """Refuse proj's own settings (PROJ_EXPERIMENT_NAME, ...) when they are not UTF-8."""
    for name in names:
        value = environ.get(name)
        if value is not None and not is_utf8(value):
            raise UsageError(f"the environment variable {name} is not valid UTF-8 text: {shown(value)}", hint=_HINT)


def check_record(data: Any, what: str) -> None:
    """Refuse a run record (a dict of JSON values) holding text that is not UTF-8, naming the field."""
    for field, text in _texts(data, ""):
        if not is_utf8(text):
            raise UsageError(f"{what}: {field or 'a value'} is not valid UTF-8 text: {shown(text)}", hint=_HINT)


def _texts(data: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(data, str):
        yield where, data
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from _texts(str(key), where)
            yield from _texts(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from _texts(value, f"{where}[{index}]")
