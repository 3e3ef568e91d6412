"""Charts that compare runs, as inline SVG drawn on the server: parallel coordinates of
parameters against a metric, and a scatter plot of any two columns, with the best run marked.

Each run is a link to its page and carries its values in a tooltip. A value a run does not have
(or a NaN) is drawn on a band below its axis, marked "none", rather than leaving the run out.
Every piece of text that reaches the SVG is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from markupsafe import Markup

from runner.ui.choosing import Column, RunPoint, Selection
from runner.ui.numbers import exact, rounded
from runner.ui.scales import Scale, tick_text

# A sequential palette (dark: low values, light: high), and the best run's colour.
GRADIENT = ("#3b0f70", "#5a3a8e", "#3e6aa8", "#2a8f9e", "#3fb07c", "#8fcc4d", "#e0d83b")
BEST = "#d62728"
AXIS_GAP, PC_MIN_WIDTH, PC_HEIGHT, PC_TOP, PC_BOTTOM, PC_SIDE = 120, 720, 320, 40, 46, 60
SC_WIDTH, SC_HEIGHT, SC_LEFT, SC_RIGHT, SC_TOP, SC_BOTTOM = 640, 360, 70, 20, 20, 52
MAX_CATEGORY_LABELS = 12  # a text axis with more values labels its first and last only


def parallel_coordinates(selection: Selection, axes: list[Column]) -> Markup:
    """One vertical axis per column, one line per run across them, coloured by the judged metric."""
    if len(axes) < 2 or not selection.runs:
        return Markup('<p class="muted">Parallel coordinates need at least two columns and one run.</p>')
    gap = max(AXIS_GAP, (PC_MIN_WIDTH - 2 * PC_SIDE) / (len(axes) - 1))
    width = round(PC_SIDE * 2 + gap * (len(axes) - 1))
    bottom = PC_HEIGHT - PC_BOTTOM
    placed = [_Axis(selection, column, bottom, PC_TOP, ordinal=True) for column in axes]
    xs = [round(PC_SIDE + gap * i, 1) for i in range(len(axes))]
    colour = _colouring(selection)
    parts = [f'<svg class="chart plot parallel" viewBox="0 0 {width} {PC_HEIGHT}" width="{width}" role="img" '
             f'data-runs="{len(selection.runs)}" aria-label="parallel coordinates of {len(selection.runs)} runs">',
             "<title>Parallel coordinates</title>"]
    best = selection.best
    ordered = [r for r in selection.runs if r is not best] + ([best] if best else [])
    for run in ordered:
        points = []
        for axis, x in zip(placed, xs):
            y = axis.position(run.number(axis.column))
            points.append(f"{x},{bottom + 18 if y is None else y:.1f}")
        css = "run best" if run is best else "run"
        stroke = BEST if run is best else colour(run)
        parts.append(f'<a href="/runs/{escape(run.run_id)}"><polyline class="{css}" data-run-id="{escape(run.run_id)}" '
                     f'stroke="{stroke}" points="{" ".join(points)}"><title>{_run_text(run, axes)}</title>'
                     "</polyline></a>")
    for axis, x in zip(placed, xs):
        parts += _vertical_axis(axis, x, bottom)
    parts.append("</svg>")
    return Markup("".join(parts))


def scatter(selection: Selection, x_column: Column, y_column: Column) -> Markup:
    """Each run a point at (x, y); the best run ringed and named."""
    x_axis = _Axis(selection, x_column, SC_LEFT, SC_WIDTH - SC_RIGHT, ordinal=False, margin=True)
    y_axis = _Axis(selection, y_column, SC_HEIGHT - SC_BOTTOM, SC_TOP, ordinal=False, margin=True)
    placed = [(run, x_axis.position(run.number(x_column)), y_axis.position(run.number(y_column)))
              for run in selection.runs]
    drawn = [(run, x, y) for run, x, y in placed if x is not None and y is not None]
    if not drawn:
        return Markup(f'<p class="muted">No run has values for both {escape(x_column.name)} and '
                      f'{escape(y_column.name)}.</p>')
    colour = _colouring(selection)
    parts = [f'<svg class="chart plot scatter" viewBox="0 0 {SC_WIDTH} {SC_HEIGHT}" width="{SC_WIDTH}" role="img" '
             f'data-x="{escape(x_column.key)}" data-y="{escape(y_column.key)}" '
             f'aria-label="{escape(y_column.name)} against {escape(x_column.name)}">',
             f"<title>{escape(y_column.name)} against {escape(x_column.name)}</title>",
             *_frame(x_axis, y_axis)]
    best = selection.best
    for run, cx, cy in sorted(drawn, key=lambda item: item[0] is best):
        text = _run_text(run, [x_column, y_column, *([selection.metric] if selection.metric else [])])
        parts += _point(run, cx, cy, text, BEST if run is best else colour(run), run is best)
    left_out = len(placed) - len(drawn)
    if left_out:
        parts.append(f'<text class="tick note" x="{SC_WIDTH - SC_RIGHT}" y="{SC_TOP - 6}" text-anchor="end">'
                     f"{left_out} run{'s' if left_out > 1 else ''} without both values not shown</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(selection: Selection) -> Markup:
    """What the colours mean: the gradient from the judged metric's lowest value to its highest,
    and the best run's colour."""
    metric = selection.metric
    values = [v for run in selection.runs if metric and (v := run.number(metric)) is not None and math.isfinite(v)]
    if metric is None or not values:
        return Markup("")
    box = 18
    parts = [f'<svg class="legend-bar" viewBox="0 0 {box * len(GRADIENT) + 300} 22" role="img" '
             f'aria-label="colours by {escape(metric.name)}">',
             f'<text class="tick" x="0" y="15">{tick_text(min(values))}</text>']
    start = 60
    for index, colour in enumerate(GRADIENT):
        parts.append(f'<rect x="{start + index * box}" y="3" width="{box}" height="14" fill="{colour}"/>')
    end = start + box * len(GRADIENT)
    parts.append(f'<text class="tick" x="{end + 6}" y="15">{tick_text(max(values))} ({escape(metric.name)})</text>')
    parts.append(f'<rect x="{end + 150}" y="3" width="{box}" height="14" fill="{BEST}"/>'
                 f'<text class="tick" x="{end + 154 + box}" y="15">best</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _point(run: RunPoint, cx: float, cy: float, text: str, fill: str, best: bool) -> list[str]:
    """One run on the scatter plot, a link to its page; the best one ringed and labelled."""
    css, radius = ("point best", 6) if best else ("point", 4.5)
    parts = [f'<a href="/runs/{escape(run.run_id)}"><circle class="{css}" data-run-id="{escape(run.run_id)}" '
             f'cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{fill}"><title>{text}</title></circle></a>']
    if best:
        anchor, shift = ("end", -14) if cx > SC_WIDTH / 2 else ("start", 14)
        parts.append(f'<circle class="best-ring" cx="{cx:.1f}" cy="{cy:.1f}" r="11" stroke="{BEST}"/>')
        parts.append(f'<text class="best-label" x="{cx + shift:.1f}" y="{cy - 10:.1f}" '
                     f'text-anchor="{anchor}">best</text>')
    return parts


# --- pieces ------------------------------------------------------------------------------------

class _Axis:
    """Where a column's values go along one axis. Text values, and on parallel coordinates the
    values of a parameter with few of them (a grid sweep's), are spaced evenly in order; other
    numbers linearly between their lowest and highest."""

    def __init__(self, selection: Selection, column: Column, start: float, end: float, *, ordinal: bool,
                 margin: bool = False) -> None:
        self.column = column
        values = sorted({v for run in selection.runs if (v := run.number(column)) is not None and math.isfinite(v)})
        grid = ordinal and column.kind == "param" and 1 < len(values) <= MAX_CATEGORY_LABELS
        self.steps: list[float] = values if grid or not column.numeric else []
        if not column.numeric:
            self.steps = [float(i) for i in range(len(column.categories))]
        placed = [float(i) for i in range(len(self.steps))] if self.steps else values
        self.scale = Scale(placed or [0.0], start, end)
        if len(self.steps) == 1:
            self.scale.low, self.scale.high = -1.0, 1.0  # a single value in the middle
        self.data = (values[0], values[-1]) if values else (0.0, 0.0)
        if margin and not self.steps:  # a point on the edge would be cut in half
            spread = (self.scale.high - self.scale.low) * 0.05
            self.scale.low, self.scale.high = self.scale.low - spread, self.scale.high + spread

    def position(self, value: float | None) -> float | None:
        """The pixel of a value; None for no value, NaN or infinity."""
        if value is None or not math.isfinite(value):
            return None
        if self.steps:
            return self.scale(float(self.steps.index(value)) if self.column.numeric else value)
        return self.scale(value)

    def labels(self) -> list[tuple[float, str]]:
        """Tick pixels and their escaped labels: every value of an evenly spaced axis (its ends
        when there are many), else the lowest, middle and highest value."""
        if self.steps:
            texts = list(self.column.categories) if not self.column.numeric else [rounded(v) for v in self.steps]
            shown = list(enumerate(texts))
            if len(shown) > MAX_CATEGORY_LABELS:
                shown = [shown[0], shown[-1]]
            return [(self.scale(float(i)), escape(_short(text))) for i, text in shown]
        low, high = self.data
        ticks = [low] if low == high else [low, (low + high) / 2, high]
        return [(self.scale(v), tick_text(v)) for v in ticks]


def _vertical_axis(axis: _Axis, x: float, bottom: float) -> list[str]:
    name = axis.column.name
    parts = [f'<path class="axis" d="M{x} {PC_TOP}V{bottom}"/>',
             f'<text class="axis-title" x="{x}" y="{PC_TOP - 14}" text-anchor="middle">{escape(_short(name))}'
             f"<title>{escape(axis.column.key)}</title></text>"]
    for y, label in axis.labels():
        parts.append(f'<text class="tick" x="{x - 5}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<text class="tick none" x="{x - 5}" y="{bottom + 22}" text-anchor="end">none</text>')
    return parts


def _frame(x_axis: _Axis, y_axis: _Axis) -> list[str]:
    bottom, right = SC_HEIGHT - SC_BOTTOM, SC_WIDTH - SC_RIGHT
    parts = [f'<path class="axis" d="M{SC_LEFT} {SC_TOP}V{bottom}H{right}"/>']
    for y, label in y_axis.labels():
        parts.append(f'<path class="grid" d="M{SC_LEFT} {y:.1f}H{right}"/>')
        parts.append(f'<text class="tick" x="{SC_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for x, label in x_axis.labels():
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    middle = (SC_TOP + bottom) / 2
    parts.append(f'<text class="axis-title" x="{(SC_LEFT + right) / 2:.0f}" y="{SC_HEIGHT - 10}" '
                 f'text-anchor="middle">{escape(x_axis.column.key)}</text>')
    parts.append(f'<text class="axis-title" x="14" y="{middle:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {middle:.0f})">{escape(y_axis.column.key)}</text>')
    return parts


def _colouring(selection: Selection) -> Callable[[RunPoint], str]:
    """A run's colour on the gradient, by its value of the judged metric (grey without one)."""
    metric = selection.metric
    values = [v for run in selection.runs if metric and (v := run.number(metric)) is not None and math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)

    def colour(run: RunPoint) -> str:
        value = run.number(metric) if metric else None
        if value is None or not math.isfinite(value):
            return "#9aa4ae"
        share = 0.5 if high == low else (value - low) / (high - low)
        return GRADIENT[min(int(share * len(GRADIENT)), len(GRADIENT) - 1)]

    return colour


def _run_text(run: RunPoint, columns: list[Column]) -> str:
    values = []
    for column in columns:
        value = run.values.get(column.key)
        if isinstance(value, float):
            shown = rounded(value)
            values.append(f"{column.name}={shown}" + ("" if shown == exact(value) else f" ({exact(value)})"))
        else:
            values.append(f"{column.name}={'none' if value is None else value}")
    return escape(f"{run.run_name} ({run.run_id[:8]}, {run.status}): " + ", ".join(values))


def _short(text: str, width: int = 18) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
