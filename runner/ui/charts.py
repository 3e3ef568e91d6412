"""Metric line charts as inline SVG, drawn on the server: no JavaScript, no external assets.

A chart can put steps or time on its horizontal axis, use a log scale, and smooth its lines (an
exponential moving average, drawn over the faint raw line). Values a line cannot show are marked
where they happened, never dropped silently: NaN as a cross on the bottom edge, infinities as
triangles on the edge they point to, and on a log scale zero and negative values as triangles
at the bottom.

Every piece of text that reaches the SVG (metric keys, run labels) is escaped here, because the
result is inserted into pages as markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from runner.outputs import MetricPoint
from runner.ui.numbers import exact, rounded
from runner.ui.scales import Scale, duration_text, tick_text

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 30  # margins around the plot area
MAX_POINTS = 1000  # per series: a longer series is thinned evenly (its last point is always kept)
MAX_MARKS = 500  # non-finite points marked per series (the rest are counted in the note)
MARKERS_UP_TO = 60  # draw a dot on each point of short series, so a single value is visible
PALETTE = 10  # colours come from the stylesheet: .series-0 ... .series-9
X_AXES = ("step", "time")


@dataclass(frozen=True)
class ChartOptions:
    x: str = "step"  # "step", or "time": seconds since the run started
    log: bool = False  # a log scale for values
    smoothing: float = 0.0  # 0 (none) to 0.99: the weight of the past in the moving average


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, value) in the order written; values may be NaN or infinite
    colour: int = 0


@dataclass
class Curves:
    """Each metric's points as read for a chart, and how many had no place on its axis."""

    series: dict[str, list[tuple[float, float]]]
    untimed: dict[str, int] = field(default_factory=dict)  # points written without a timestamp


def read_curves(points: Iterable[MetricPoint], keys: set[str] | None = None, *, x: str = "step",
                origin: float = 0.0) -> Curves:
    """Each metric's (x, value) pairs (of `keys` only, when given), thinned while they are read so
    that memory stays bounded however many points there are. On the step axis a point written
    without a step takes its position in its series; on the time axis x is its timestamp minus
    `origin` (the run's start), and a point without a timestamp is counted, not placed."""
    grouped: dict[str, _Thinning] = {}
    untimed: dict[str, int] = {}
    for point in points:
        if keys is not None and point.key not in keys:
            continue
        series = grouped.get(point.key)
        if series is None:
            series = grouped[point.key] = _Thinning()
        if x == "time":
            if point.timestamp is None:
                untimed[point.key] = untimed.get(point.key, 0) + 1
                continue
            series.add(point.timestamp - origin, point.value)
        else:
            series.add(point.step, point.value)
    return Curves({key: series.result() for key, series in grouped.items() if series.seen}, untimed)


def series_by_key(points: Iterable[MetricPoint], keys: set[str] | None = None) -> dict[str, list[tuple[float, float]]]:
    """Each metric's (step, value) pairs: `read_curves` on the step axis."""
    return read_curves(points, keys).series


class _Thinning:
    """Every `stride`-th finite point and the last one; when twice MAX_POINTS are kept, every
    other one is dropped and the stride doubles, so at most 2 * MAX_POINTS points are ever held.
    Non-finite points are all kept (up to MAX_MARKS): they are what a reader must not miss."""

    def __init__(self) -> None:
        self.kept: list[tuple[int, float, float]] = []  # (order read, x, value)
        self.marks: list[tuple[int, float, float]] = []
        self.stride, self.seen, self.finite = 1, 0, 0
        self.last: tuple[int, float, float] | None = None

    def add(self, x: float | None, value: float) -> None:
        point = (self.seen, float(x if x is not None else self.seen), value)
        self.seen += 1
        if not math.isfinite(value):
            if len(self.marks) < MAX_MARKS:
                self.marks.append(point)
            return
        if self.finite % self.stride == 0:
            self.kept.append(point)
            if len(self.kept) >= 2 * MAX_POINTS:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.finite += 1
        self.last = point

    def result(self) -> list[tuple[float, float]]:
        kept = self.kept if self.last is None or (self.kept and self.kept[-1] == self.last) else [*self.kept, self.last]
        return [(x, value) for _, x, value in sorted([*kept, *self.marks])]


def smoothed(values: list[float], weight: float) -> list[float]:
    """An exponential moving average, corrected for its start (it does not begin at zero)."""
    if weight <= 0:
        return values
    average, result = 0.0, []
    for count, value in enumerate(values, start=1):
        average = average * weight + (1 - weight) * value
        result.append(average / (1 - weight ** count))
    return result


def line_chart(title: str, series: list[Series], options: ChartOptions = ChartOptions()) -> Markup:
    """One chart: a line per series, the value range on the left axis, odd values marked."""
    drawn = [Series(s.label, _thin(s.points), s.colour) for s in series]
    if not any(s.points for s in drawn):
        return Markup(f'<p class="muted">{escape(title)}: no values to draw</p>')
    plot = _Plot(drawn, options)
    parts = [
        (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-metric="{escape(title)}" '
         f'data-x="{options.x}" data-scale="{"log" if options.log else "linear"}" '
         f'aria-label="{escape(title)} over {"time" if options.x == "time" else "steps"}">'),
        f"<title>{escape(title)}</title>",
        *plot.axes(),
    ]
    for s in drawn:
        parts += plot.line(s)
    parts += plot.note()
    parts.append("</svg>")
    return Markup("".join(parts))


class _Plot:
    def __init__(self, series: list[Series], options: ChartOptions) -> None:
        self.options = options
        xs = [x for s in series for x, _ in s.points]
        self.x_values = sorted({min(xs), max(xs)})  # the first and last x drawn (one, if they are equal)
        self.x = Scale(xs, LEFT, WIDTH - RIGHT)
        values = [v for s in series for _, v in s.points]
        probe = Scale([1.0], 0, 1, log=options.log)
        self.y = Scale([v for v in values if probe.drawable(v)], HEIGHT - BOTTOM, TOP, log=options.log)
        self.marked: dict[str, int] = {}
        self.any_finite = any(self.y.drawable(v) for v in values)

    def axes(self) -> list[str]:
        bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
        parts = [f'<path class="axis" d="M{LEFT} {TOP}V{bottom}H{right}"/>']
        if self.any_finite:
            for value in self.y.ticks():
                y = self.y(value)
                parts.append(f'<path class="grid" d="M{LEFT} {y:.1f}H{right}"/>')
                parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                             f"{tick_text(value)}</text>")
        anchors = ["middle"] if len(self.x_values) == 1 else ["start", "end"]
        for value, anchor in zip(self.x_values, anchors):
            label = duration_text(value) if self.options.x == "time" else tick_text(value)
            parts.append(f'<text class="tick" x="{self.x(value):.1f}" y="{bottom + 18}" '
                         f'text-anchor="{anchor}">{escape(label)}</text>')
        if len(self.x_values) > 1:
            middle = (LEFT + right) / 2
            name = "time since the run started" if self.options.x == "time" else "step"
            parts.append(f'<text class="tick" x="{middle:.0f}" y="{bottom + 18}" text-anchor="middle">{name}</text>')
        return parts

    def line(self, series: Series) -> list[str]:
        css = f"series-{series.colour % PALETTE}"
        shown = [(x, v) for x, v in series.points if self.y.drawable(v)]
        parts: list[str] = []
        values = [v for _, v in shown]
        smooth = smoothed(values, self.options.smoothing)
        if shown and smooth is not values:
            parts.append(self._polyline("line raw " + css, [(x, v) for (x, _), v in zip(shown, values)], series.label))
        if shown:
            parts.append(self._polyline("line " + css, [(x, v) for (x, _), v in zip(shown, smooth)], series.label))
        if len(shown) <= MARKERS_UP_TO:
            parts += [f'<circle class="dot {css}" cx="{self.x(x):.1f}" cy="{self.y(v):.1f}" r="2.5">'
                      f"<title>{self._point_text(series.label, x, v)}</title></circle>" for x, v in shown]
        parts += [self._mark(series.label, css, x, v) for x, v in series.points if not self.y.drawable(v)]
        return parts

    def _polyline(self, css: str, points: list[tuple[float, float]], label: str) -> str:
        coordinates = " ".join(f"{self.x(x):.1f},{self.y(y):.1f}" for x, y in points)
        return f'<polyline class="{css}" points="{coordinates}"><title>{escape(label)}</title></polyline>'

    def _point_text(self, label: str, x: float, value: float) -> str:
        where = duration_text(x) if self.options.x == "time" else f"step {tick_text(x)}"
        shown = rounded(value)
        text = f"{label}: {where}, {shown}" + ("" if shown == exact(value) else f" ({exact(value)})")
        return escape(text)

    def _mark(self, label: str, css: str, x: float, value: float) -> str:
        """A value the line cannot show, marked at its x: NaN, an infinity, or a value a log scale
        has no place for."""
        px, top, bottom = self.x(x), TOP, HEIGHT - BOTTOM
        if math.isnan(value):
            kind, shape = "nan", f"M{px - 4:.1f} {bottom - 8}l8 8m0 -8l-8 8"
        elif value == math.inf:
            kind, shape = "inf", f"M{px:.1f} {top}l-5 8h10z"
        elif value == -math.inf:
            kind, shape = "-inf", f"M{px:.1f} {bottom}l-5 -8h10z"
        else:
            kind, shape = "not on a log scale", f"M{px:.1f} {bottom}l-5 -8h10z"
        self.marked[kind] = self.marked.get(kind, 0) + 1
        return (f'<path class="mark {css}" data-kind="{escape(kind)}" d="{shape}">'
                f"<title>{self._point_text(label, x, value)}</title></path>")

    def note(self) -> list[str]:
        """What the marks mean, top right: `NaN ×2 · inf ▲1`."""
        symbols = {"nan": "NaN ×", "inf": "inf ▲", "-inf": "-inf ▼", "not on a log scale": "≤ 0 ▼"}
        texts = [f"{symbols[kind]}{count}" for kind, count in self.marked.items()]
        if not self.any_finite:
            texts.insert(0, "no finite values")
        if not texts:
            return []
        return [f'<text class="tick note" x="{WIDTH - RIGHT}" y="{TOP - 4}" text-anchor="end">'
                f'{escape(" · ".join(texts))}</text>']


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most MAX_POINTS finite points (evenly, the last one kept), every non-finite one."""
    finite = [p for p in points if math.isfinite(p[1])]
    if len(finite) <= MAX_POINTS:
        return points
    stride = math.ceil(len(finite) / MAX_POINTS)
    kept = finite[::stride]
    if kept[-1] != finite[-1]:
        kept.append(finite[-1])
    marks = [p for p in points if not math.isfinite(p[1])][:MAX_MARKS]
    return kept + marks
