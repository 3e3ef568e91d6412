"""The server-drawn SVG charts: escaped text, sane scales, bounded size."""

from __future__ import annotations

import math
import re

import pytest

from runner.outputs import MetricPoint
from runner.ui.charts import MAX_POINTS, ChartOptions, Series, line_chart, read_curves, series_by_key, smoothed
from runner.ui.numbers import exact, rounded


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


def marks(svg: str) -> list[tuple[str, str]]:
    """(kind, tooltip) of each mark of a value the line cannot show."""
    return re.findall(r'<path class="mark [^"]*" data-kind="([^"]*)" d="[^"]*"><title>([^<]*)</title>', svg)


def test_non_finite_values_are_marked_where_they_happened_not_joined():
    svg = str(line_chart("m", [Series("r", [(0, 1.0), (1, math.nan), (2, math.inf), (3, -math.inf), (4, 2.0)])]))
    assert len(coordinates(svg)[0]) == 2  # the line joins the finite values only
    assert marks(svg) == [("nan", "r: step 1, nan"), ("inf", "r: step 2, inf"), ("-inf", "r: step 3, -inf")]
    assert "NaN ×1 · inf ▲1 · -inf ▼1" in svg
    only_nan = str(line_chart("m", [Series("r", [(0, math.nan)])]))
    assert "no finite values" in only_nan and marks(only_nan) == [("nan", "r: step 0, nan")]
    assert "no values to draw" in str(line_chart("m", [Series("r", [])]))


def test_a_log_scale_spaces_decades_evenly_and_marks_values_it_cannot_place():
    svg = str(line_chart("loss", [Series("r", [(0, 100.0), (1, 10.0), (2, 1.0), (3, 0.0), (4, -1.0)])],
                         ChartOptions(log=True)))
    [line] = coordinates(svg)
    ys = [y for _, y in line]
    assert len(line) == 3 and math.isclose(ys[1] - ys[0], ys[2] - ys[1])  # 100 -> 10 -> 1: equal steps
    assert [kind for kind, _ in marks(svg)] == ["not on a log scale"] * 2 and "≤ 0 ▼2" in svg
    assert 'data-scale="log"' in svg


def test_smoothing_draws_a_moving_average_over_the_faint_raw_line():
    values = [1.0, 0.0] * 20
    svg = str(line_chart("m", [Series("r", list(enumerate(values)))], ChartOptions(smoothing=0.8)))
    raw = re.findall(r'<polyline class="line raw', svg)
    [raw_line, smooth_line] = coordinates(svg.replace("line raw", "line"))
    assert len(raw) == 1 and raw_line[0] == smooth_line[0]  # the average starts at the first value (debiased)
    spread = lambda line: max(y for _, y in line[20:]) - min(y for _, y in line[20:])  # noqa: E731
    assert spread(smooth_line) < spread(raw_line) / 4  # once under way, the zigzag is flattened
    assert smoothed([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # a constant stays itself
    assert smoothed([1.0, 3.0], 0.0) == [1.0, 3.0]


def test_the_time_axis_places_points_by_timestamp_from_the_runs_start():
    points = [MetricPoint("loss", 3.0, 1, 1000.5), MetricPoint("loss", 2.0, 2, 1010.0), MetricPoint("loss", 1.0, 3),
              MetricPoint("acc", 0.5, 1, 1090.0)]
    curves = read_curves(points, x="time", origin=1000.0)
    assert curves.series == {"loss": [(0.5, 3.0), (10.0, 2.0)], "acc": [(90.0, 0.5)]}
    assert curves.untimed == {"loss": 1}
    svg = str(line_chart("loss", [Series("r", curves.series["loss"])], ChartOptions(x="time")))
    assert "time since the run started" in svg and ">0.5s<" in svg and ">10s<" in svg


def test_thinning_keeps_every_non_finite_point():
    points = [MetricPoint("m", math.nan if step % 1000 == 0 else float(step), step) for step in range(20_000)]
    series = series_by_key(points)["m"]
    assert len([v for _, v in series if math.isnan(v)]) == 20
    assert len(series) <= 2 * MAX_POINTS + 20 + 1 and series[-1] == (19_999, 19_999.0)


@pytest.mark.parametrize("value, shown", [
    (0.73124567, "0.7312"), (12.3456, "12.35"), (1234.56, "1235"), (12345.6, "12346"), (0.0001234, "1.234e-04"),
    (12345678.0, "1.235e+07"), (2.0, "2"), (0.0, "0"), (-0.5, "-0.5"), (math.nan, "nan"), (-math.inf, "-inf"),
    (7, "7"), (None, "-"),
])
def test_numbers_are_rounded_for_reading(value, shown):
    assert rounded(value) == shown


def test_the_exact_value_reads_back_as_the_same_float():
    for value in (0.1 + 0.2, 1e-300, 123456.789012345, math.pi):
        assert float(exact(value)) == value


def test_long_series_are_thinned_and_keep_their_last_point():
    points = [(step, float(step % 7)) for step in range(5003)]
    svg = str(line_chart("m", [Series("r", points)]))
    [line] = coordinates(svg)
    assert len(line) <= MAX_POINTS + 1 and line[-1][0] == 640 - 16  # the last step at the right edge
    assert "<circle" not in svg  # no per-point dots on long series


def test_each_series_gets_its_colour():
    svg = str(line_chart("m", [Series("a", [(0, 1.0)], 0), Series("b", [(0, 2.0)], 11)]))
    assert 'class="line series-0"' in svg and 'class="line series-1"' in svg
