"""Metric line charts as inline SVG, drawn on the server: no JavaScript, no external assets.

Every piece of text that reaches the SVG (metric keys, run labels) is escaped here, because the
result is inserted into pages as markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from runner.outputs import MetricPoint

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 30  # margins around the plot area
MAX_POINTS = 1000  # per series: a longer series is thinned evenly (its last point is always kept)
MARKERS_UP_TO = 60  # draw a dot on each point of short series, so a single value is visible
PALETTE = 10  # colours come from the stylesheet: .series-0 ... .series-9


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]  # (step, value), in the order written
    colour: int = 0


def series_by_key(points: Iterable[MetricPoint], keys: set[str] | None = None) -> dict[str, list[tuple[float, float]]]:
    """Each metric's (step, value) pairs (of `keys` only, when given), thinned while they are read
    so that memory stays bounded however many points there are; a point written without a step
    takes its position in its series."""
    grouped: dict[str, _Thinning] = {}
    for point in points:
        if keys is not None and point.key not in keys:
            continue
        series = grouped.get(point.key)
        if series is None:
            series = grouped[point.key] = _Thinning()
        series.add(point.step, point.value)
    return {key: series.result() for key, series in grouped.items()}


class _Thinning:
    """Every `stride`-th point and the last one; when twice MAX_POINTS are kept, every other one
    is dropped and the stride doubles, so at most 2 * MAX_POINTS points are ever held."""

    def __init__(self) -> None:
        self.kept: list[tuple[float, float]] = []
        self.stride, self.seen = 1, 0
        self.last: tuple[float, float] | None = None

    def add(self, step: int | None, value: float) -> None:
        point = (step if step is not None else self.seen, value)
        if self.seen % self.stride == 0:
            self.kept.append(point)
            if len(self.kept) >= 2 * MAX_POINTS:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1
        self.last = point

    def result(self) -> list[tuple[float, float]]:
        if self.last is not None and (not self.kept or self.kept[-1] != self.last):
            return [*self.kept, self.last]
        return self.kept


def line_chart(title: str, series: list[Series]) -> Markup:
    """One chart: a line per series over steps, with the value range on the left axis."""
    drawn = [Series(s.label, _thin([p for p in s.points if math.isfinite(p[1])]), s.colour) for s in series]
    points = [p for s in drawn for p in s.points]
    if not points:
        return Markup(f'<p class="muted">{escape(title)}: no finite values to draw</p>')
    scale = _Scale([x for x, _ in points], [y for _, y in points])
    parts = [
        (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-metric="{escape(title)}" '
         f'aria-label="{escape(title)} over steps">'),
        f"<title>{escape(title)}</title>",
        *_axes(scale),
    ]
    for s in drawn:
        parts += _line(s, scale)
    parts.append("</svg>")
    return Markup("".join(parts))


class _Scale:
    def __init__(self, xs: list[float], ys: list[float]) -> None:
        self.steps = sorted({min(xs), max(xs)})  # the first and last step drawn (one, if they are equal)
        self.x_low, self.x_high = _padded(min(xs), max(xs))
        self.y_low, self.y_high = _padded(min(ys), max(ys))

    def x(self, value: float) -> float:
        return LEFT + (value - self.x_low) / (self.x_high - self.x_low) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (value - self.y_low) / (self.y_high - self.y_low) * (HEIGHT - TOP - BOTTOM)


def _padded(low: float, high: float) -> tuple[float, float]:
    """A range that is never empty: a constant metric is drawn mid-height."""
    if high > low:
        return low, high
    spread = abs(low) * 0.1 or 1.0
    return low - spread, high + spread


def _axes(scale: _Scale) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<path class="axis" d="M{LEFT} {TOP}V{bottom}H{right}"/>']
    for value in (scale.y_low, (scale.y_low + scale.y_high) / 2, scale.y_high):
        y = scale.y(value)
        parts.append(f'<path class="grid" d="M{LEFT} {y:.1f}H{right}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>')
    anchors = ["middle"] if len(scale.steps) == 1 else ["start", "end"]
    for value, anchor in zip(scale.steps, anchors):
        parts.append(f'<text class="tick" x="{scale.x(value):.1f}" y="{bottom + 18}" '
                     f'text-anchor="{anchor}">{_number(value)}</text>')
    if len(scale.steps) > 1:
        middle = (LEFT + right) / 2
        parts.append(f'<text class="tick" x="{middle:.0f}" y="{bottom + 18}" text-anchor="middle">step</text>')
    return parts


def _line(series: Series, scale: _Scale) -> list[str]:
    css = f"series-{series.colour % PALETTE}"
    coordinates = " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in series.points)
    parts = [f'<polyline class="line {css}" points="{coordinates}"><title>{escape(series.label)}</title></polyline>']
    if len(series.points) <= MARKERS_UP_TO:
        parts += [f'<circle class="dot {css}" cx="{scale.x(x):.1f}" cy="{scale.y(y):.1f}" r="2.5">'
                  f"<title>{escape(series.label)}: step {_number(x)}, {_number(y)}</title></circle>"
                  for x, y in series.points]
    return parts


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_POINTS)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else kept + [points[-1]]


def _number(value: float) -> str:
    return escape(f"{value:.4g}")
