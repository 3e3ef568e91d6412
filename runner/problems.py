"""A problem found in a project file, and the three ways `proj validate` prints one."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Problem(NamedTuple):
    """A problem found in a file, at a position, with its severity."""

    file: Path
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based; 0 when unknown
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def promoted(self) -> Problem:
        """The same problem as an error (`--strict`)."""
        return Problem(self.file, self.line, self.column, Severity.ERROR, self.message)

    def as_text(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity.value}: {self.message}"

    def as_github(self) -> str:
        # GitHub Actions workflow command; %, CR and LF must be escaped in the message.
        message = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (
            f"::{self.severity.value} file={self.file},line={max(self.line, 1)},"
            f"col={max(self.column, 1)}::{message}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**self._asdict(), "file": str(self.file), "severity": self.severity.value}


def render_problems(problems: list[Problem], output_format: str) -> str:
    """All problems in one of the formats `proj validate --format` accepts."""
    if output_format == "json":
        return json.dumps([p.as_dict() for p in problems], indent=2)
    if output_format == "github":
        return "\n".join(p.as_github() for p in problems)
    return "\n".join(p.as_text() for p in problems)
