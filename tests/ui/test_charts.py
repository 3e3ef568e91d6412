"""The server-drawn SVG charts: escaped text, sane scales, bounded size."""

from __future__ import annotations

import math
import re

from runner.outputs import MetricPoint
from runner.ui.charts import MAX_POINTS, Series, line_chart, series_by_key


def coordinates(svg: str) -> list[list[tuple[float, float]]]:
    lines = re.findall(r'<polyline class="line [^"]*" points="([^"]*)"', svg)
    return [[tuple(map(float, pair.split(","))) for pair in line.split()] for line in lines]


def test_text_in_charts_is_escaped():
    svg = str(line_chart("<b>loss</b>", [Series("run <script>alert(1)</script>", [(0, 1.0), (1, 2.0)])]))
    assert "<b>" not in svg and "<script>" not in svg
    assert "&lt;b&gt;loss&lt;/b&gt;" in svg and "run &lt;script&gt;alert(1)&lt;/script&gt;" in svg


def test_points_without_a_step_take_their_position():
    points = [MetricPoint("a", 1.0), MetricPoint("b", 5.0, step=10), MetricPoint("a", 2.0),
              MetricPoint("a", 3.0, step=7)]
    assert series_by_key(points) == {"a": [(0, 1.0), (1, 2.0), (7, 3.0)], "b": [(10, 5.0)]}


def test_higher_values_are_drawn_higher_and_steps_left_to_right():
    [line] = coordinates(str(line_chart("loss", [Series("r", [(1, 3.0), (2, 2.0), (3, 1.0)])])))
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs == sorted(xs) and ys == sorted(ys)  # SVG's y grows downwards: falling values go down


def test_constant_and_single_values_are_drawn_inside_the_chart():
    for points in ([(0, 5.0)], [(0, 0.0), (1, 0.0)], [(3, -2.0), (3, -2.0)]):
        [line] = coordinates(str(line_chart("m", [Series("r", points)])))
        assert all(math.isfinite(x) and math.isfinite(y) and 0 <= x <= 640 and 0 <= y <= 220 for x, y in line)


def test_non_finite_values_are_left_out():
    svg = str(line_chart("m", [Series("r", [(0, 1.0), (1, math.nan), (2, math.inf), (3, 2.0)])]))
    assert len(coordinates(svg)[0]) == 2 and "nan" not in svg and "inf" not in svg
    assert "no finite values" in str(line_chart("m", [Series("r", [(0, math.nan)])]))


def test_long_series_are_thinned_and_keep_their_last_point():
    points = [(step, float(step % 7)) for step in range(5003)]
    svg = str(line_chart("m", [Series("r", points)]))
    [line] = coordinates(svg)
    assert len(line) <= MAX_POINTS + 1 and line[-1][0] == 640 - 16  # the last step at the right edge
    assert "<circle" not in svg  # no per-point dots on long series


def test_each_series_gets_its_colour():
    svg = str(line_chart("m", [Series("a", [(0, 1.0)], 0), Series("b", [(0, 2.0)], 11)]))
    assert 'class="line series-0"' in svg and 'class="line series-1"' in svg
