"""Files shipped with proj: the JSON schemas.

`schemas/` at the top of the repository is the one source of truth. A wheel carries a copy at
`runner/schemas/` (see pyproject.toml); a source checkout or editable install reads the original.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE_DIR / "schemas", _PACKAGE_DIR.parent / "schemas")


def schema_dir() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "mlproject.schema.json").is_file():
            return candidate
    raise FileNotFoundError("proj's JSON schemas are missing from this installation")


def schema_path(name: str) -> Path:
    return schema_dir() / f"{name}.schema.json"


@lru_cache(maxsize=None)
def schema_bytes(name: str) -> bytes:
    return schema_path(name).read_bytes()


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_bytes(name))
    return schema
