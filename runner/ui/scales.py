"""Mapping values to SVG coordinates, shared by every chart: linear and log scales with a range
that is never empty, and tick labels written the way the pages write numbers."""

from __future__ import annotations

import math
from html import escape

from runner.ui.numbers import rounded


def padded(low: float, high: float) -> tuple[float, float]:
    """A range that is never empty: a constant value is drawn mid-way."""
    if high > low:
        return low, high
    spread = abs(low) * 0.1 or 1.0
    return low - spread, high + spread


class Scale:
    """Values from `low` to `high` onto pixels from `start` to `end` (end < start for a y axis,
    whose pixels grow downwards); `log` maps log10 of the value, for positive values only."""

    def __init__(self, values: list[float], start: float, end: float, *, log: bool = False) -> None:
        self.log = log
        shown = [math.log10(v) for v in values if v > 0] if log else values
        self.low, self.high = padded(min(shown), max(shown)) if shown else (0.0, 1.0)
        self.start, self.end = start, end

    def drawable(self, value: float) -> bool:
        return math.isfinite(value) and (value > 0 or not self.log)

    def __call__(self, value: float) -> float:
        """The pixel of a drawable value."""
        position = math.log10(value) if self.log else value
        return self.start + (position - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self, count: int = 3) -> list[float]:
        """`count` values evenly spread over the range (evenly in log space on a log scale)."""
        spread = [self.low + (self.high - self.low) * i / (count - 1) for i in range(count)]
        return [10 ** v for v in spread] if self.log else spread


def tick_text(value: float) -> str:
    return escape(rounded(value))


def duration_text(seconds: float) -> str:
    """A time-axis label: `0s`, `42.5s`, `3m05s`, `2h04m`."""
    if abs(seconds) < 60:
        return f"{rounded(round(seconds, 1))}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
