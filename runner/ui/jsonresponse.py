"""JSON responses for the API: what `json.dumps` writes, made strictly valid JSON.

JSON has no NaN or infinity, which metric values can be; browsers refuse such a document, so
those values are sent as null.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), default=str, allow_nan=False, ensure_ascii=False).encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
