"""`--backend-config FILE_OR_JSON`: read it, and check it against a backend's JSON schema.

Inline JSON starts with `{` (or `[`); anything else names a JSON or YAML file. Unknown keys are errors
here, unlike in MLproject files: a misspelt scheduler option silently ignored would put the job
in the wrong queue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from runner.errors import SpecError, UsageError
from runner.locations import user_path


def read_backend_config(text: str | None, option: str = "--backend-config") -> dict[str, Any]:
    """The configuration as a dict ({} when none was given); `option` names it in messages
    (--backend-config, or --env-config for an environment kind's settings)."""
    from runner.yamldoc import parse_yaml, read_yaml

    if text is None or not text.strip():
        return {}
    try:
        if text.lstrip()[0] in "{[":  # JSON; anything else names a file
            document = parse_yaml(text, Path(option))
        else:
            path = user_path(text)
            if not path.is_file():
                raise UsageError(f"{option} {text!r}: no such file, and not inline JSON",
                                 hint='give a file, or JSON such as \'{"partition": "gpu"}\'')
            document = read_yaml(path)
    except SpecError as err:
        raise UsageError(f"Invalid {option}: {err}") from None
    if not isinstance(document.data, dict):
        raise UsageError(f"{option} must be a mapping of settings, got {json.dumps(document.data)}")
    return document.data


def check_backend_config(config: Mapping[str, Any], schema_name: str, backend: str) -> None:
    """Raise UsageError listing every problem `schema_name` finds in `config`."""
    from runner.schema_check import check_against_schema
    from runner.yamldoc import YamlDocument

    text = json.dumps(config, sort_keys=True, default=str)
    document = YamlDocument(Path("--backend-config"), text, dict(config), None)
    problems = check_against_schema(document, schema_name)
    if problems:
        lines = "\n".join(f"  - {p.message}" for p in problems)
        raise UsageError(f"Invalid --backend-config for the {backend} backend:\n{lines}",
                         hint=f"the settings are described in schemas/{schema_name}.schema.json")
