"""A sweep's objective, `--objective rmse:min`: which metric to compare its runs by, and which way.

The value compared is each run's last value of the metric; runs without it, or with NaN, are
never the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from runner.errors import UsageError
from runner.tracking.base import RunRecord


@dataclass(frozen=True)
class Objective:
    metric: str
    maximize: bool = False

    @property
    def direction(self) -> str:
        return "max" if self.maximize else "min"

    def value(self, record: RunRecord) -> float | None:
        """The run's last value of the metric; None when it has none (or NaN)."""
        last = (record.metrics.get(self.metric) or {}).get("last")
        number = None if last is None else float(last)
        return None if number is None or math.isnan(number) else number

    def ranked(self, records: Sequence[RunRecord]) -> list[RunRecord]:
        """Best first; runs without a value last, in their own order."""
        scored = [r for r in records if self.value(r) is not None]
        scored.sort(key=lambda r: self.value(r) or 0.0, reverse=self.maximize)
        return scored + [r for r in records if self.value(r) is None]

    def best(self, records: Sequence[RunRecord]) -> RunRecord | None:
        ranked = self.ranked(records)
        return ranked[0] if ranked and self.value(ranked[0]) is not None else None


def parse_objective(text: str) -> Objective:
    """`METRIC`, `METRIC:min` or `METRIC:max` (min when no direction is given). A metric name may
    hold colons itself (MLflow allows them): only a last `:min` or `:max` is a direction."""
    metric, _, direction = text.strip().rpartition(":")
    if direction.lower() not in ("min", "max"):
        metric, direction = text.strip(), "min"
    if not metric:
        raise UsageError(f"Invalid --objective {text!r}: expected METRIC, METRIC:min or METRIC:max",
                         hint="for example --objective rmse:min or --objective accuracy:max")
    return Objective(metric, maximize=direction.lower() == "max")
