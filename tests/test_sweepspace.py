"""Sweep spaces (runner.sweepspace): lists, ranges and distributions read from --sweep, the grid
and the random search they make, and the checks against the entry point's parameter types."""

from __future__ import annotations

import math

import pytest

from runner.errors import ParameterError, UsageError
from runner.project import EntryPoint, Parameter
from runner.sweepspace import DrawnAxis, SweepAxis, check_axes, parse_space, parse_sweeps


@pytest.mark.parametrize("written, values", [
    ("range(10,50,10)", ("10", "20", "30", "40")),  # as Python: the stop is not included
    ("range(3)", ("0", "1", "2")),
    ("range(5, 2, -1)", ("5", "4", "3")),
    ("range(0,0.3,0.1)", ("0.0", "0.1", "0.2")),  # decimals counted exactly: no 0.30000000000000004
    ("range(1e3,4e3,1e3)", ("1000", "2000", "3000")),
])
def test_ranges_are_written_out_as_python_reads_them(written, values):
    assert parse_sweeps([f"n={written}"]) == [SweepAxis("n", values, written=f"n={written}")]


def test_distributions_are_read_with_their_bounds():
    axes = parse_sweeps(["lr=loguniform(1e-4,1e-1)", "p=uniform(0, 0.5)", "k=randint(2,6)", "o=choice(a,b\\,c)"])
    assert [(a.distribution, a.low, a.high, a.choices) for a in axes if isinstance(a, DrawnAxis)] == [
        ("loguniform", 1e-4, 0.1, ()), ("uniform", 0.0, 0.5, ()), ("randint", 2.0, 6.0, ()),
        ("choice", 0.0, 0.0, ("a", "b,c"))]


@pytest.mark.parametrize("options, trials, message", [
    (["x=range(1,1)"], None, "the range is empty"),
    (["x=range(1,5,0)"], None, "the step of a range cannot be 0"),
    (["x=range(1,2,3,4)"], None, "range takes STOP, START,STOP or START,STOP,STEP"),
    (["x=range(a,5)"], None, "'a' is not a number"),
    (["x=uniform(1)"], 3, "uniform takes two bounds"),
    (["x=uniform(2,1)"], 3, "the lower bound must be below the upper one"),
    (["x=loguniform(0,1)"], 3, "loguniform's bounds must be above 0"),
    (["x=randint(1.5,3)"], 3, "randint takes two whole numbers"),
    (["x=choice(a,a)"], 3, "'a' appears twice"),
    (["x=uniform(0,1)"], None, "draws values at random, so the sweep needs a number of trials"),
    (["x=choice(a,b)"], None, "add --trials N"),
    (["x=1,2"], 0, "--trials 0: give a number of points, 1 or more"),
    (["x=1,2", "y=randint(1,3)"], 7, "the swept values make only 6 distinct points"),
    (["x=range(20000)"], None, "a sweep has at most 10000 points"),
    (["x=uniform(0,1)"], 10001, "The sweep has 10001 points; at most 10000"),
])
def test_malformed_spaces_are_refused(options, trials, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_space(options, trials=trials)


def test_a_seed_without_trials_is_refused():
    with pytest.raises(UsageError, match="--seed seeds a random search"):
        parse_space(["x=1,2"], seed=3)


def test_the_grid_is_every_combination_of_lists_and_ranges():
    space = parse_space(["a=x,y", "n=range(2)"])
    assert space.trials is None and space.seed is None
    assert space.points() == [{"a": "x", "n": "0"}, {"a": "x", "n": "1"}, {"a": "y", "n": "0"}, {"a": "y", "n": "1"}]


def test_a_random_search_draws_within_bounds_and_the_seed_repeats_it():
    options = ["lr=loguniform(1e-4,1e-1)", "p=uniform(0,0.5)", "k=randint(2,4)", "o=choice(adam,sgd)", "e=10,20"]
    points = parse_space(options, trials=200, seed=7).points()
    assert points == parse_space(options, trials=200, seed=7).points()
    assert points != parse_space(options, trials=200, seed=8).points()
    assert all(1e-4 <= float(p["lr"]) <= 0.1 and 0 <= float(p["p"]) <= 0.5 for p in points)
    assert {p["k"] for p in points} == {"2", "3", "4"} and {p["o"] for p in points} == {"adam", "sgd"}
    assert {p["e"] for p in points} == {"10", "20"}
    # log-uniform: about as many draws in each decade
    decades = [sum(1 for p in points if low <= float(p["lr"]) < low * 10) for low in (1e-4, 1e-3, 1e-2)]
    assert all(40 <= count <= 95 for count in decades), decades
    assert all(f"{float(p['lr']):.6g}" == p["lr"] for p in points)  # six significant digits, as drawn


def test_without_a_seed_one_is_chosen_and_kept():
    space = parse_space(["x=uniform(0,1)"], trials=3)
    assert space.seed is not None and space.points() == space.points()


def test_a_random_search_of_discrete_axes_gives_distinct_points():
    points = parse_space(["a=1,2,3", "b=randint(1,4)", "c=choice(x,y)"], trials=24, seed=1).points()
    assert len({tuple(p.values()) for p in points}) == 24 and [list(p) for p in points[:1]] == [["a", "b", "c"]]


def entry(**types: str) -> EntryPoint:
    return EntryPoint("main", "true", tuple(Parameter(n, t) for n, t in types.items()))


@pytest.mark.parametrize("option, kind, problem", [
    ("n=uniform(1,5)", "int", "uniform draws real numbers: use randint(LOW,HIGH) or range(START,STOP,STEP)"),
    ("n=loguniform(1,5)", "bool", "loguniform draws real numbers: list its values"),
    ("n=randint(1,5)", "path", "randint draws whole numbers: list its values"),
    ("n=uniform(1,5)", "float", None),
    ("n=randint(1,5)", "float", None),
    ("n=uniform(1,5)", "string", None),
    ("n=choice(a,b)", "int", None),  # each value is checked with its point
])
def test_axes_are_checked_against_the_parameter_type(option, kind, problem):
    space = parse_space([option], trials=2, seed=1)
    if problem is None:
        check_axes(space, entry(n=kind))
        return
    with pytest.raises(ParameterError) as raised:
        check_axes(space, entry(n=kind))
    assert f"parameter 'n' is {'an' if kind == 'int' else 'a'} {kind}; {problem}" in str(raised.value)


def test_undeclared_parameters_take_any_kind_of_value():
    check_axes(parse_space(["lr=uniform(0,1)"], trials=2, seed=1), entry())
    assert math.isfinite(float(parse_space(["lr=uniform(0,1)"], trials=1, seed=1).points()[0]["lr"]))
