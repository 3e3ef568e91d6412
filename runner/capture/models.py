"""A logged model described from its MLmodel file: flavors, signature, MLflow version.

Pure: the caller reads the file (bounded) from wherever the model is, a capture folder or an
MLflow server, and lists the model's files.
"""

from __future__ import annotations

import json
from typing import Any

from runner.tracking.base import LoggedModel

MAX_MLMODEL_BYTES = 1024**2
MLMODEL = "MLmodel"


def describe_model(mlmodel: dict[str, Any], *, name: str, path: str, files: list[tuple[str, int]],
                   model_id: str | None = None, run_id: str = "") -> LoggedModel:
    """The model whose MLmodel file holds `mlmodel` and whose files (relative to it) are `files`."""
    flavors = mlmodel.get("flavors")
    version = mlmodel.get("mlflow_version")
    return LoggedModel(
        name=name, path=path, flavors=sorted(str(f) for f in flavors) if isinstance(flavors, dict) else [],
        signature=_signature(mlmodel.get("signature")), files=[f for f, _ in files],
        size=sum(size for _, size in files), model_id=model_id or _text(mlmodel.get("model_id")),
        run_id=run_id or _text(mlmodel.get("run_id")) or "", mlflow_version=_text(version))


def _signature(raw: Any) -> dict[str, Any] | None:
    """MLflow keeps each part of a signature as a JSON string inside the YAML; decode them."""
    if not isinstance(raw, dict):
        return None
    signature: dict[str, Any] = {}
    for part in ("inputs", "outputs", "params"):
        value = raw.get(part)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # kept as written
        if value is not None:
            signature[part] = value
    return signature or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
