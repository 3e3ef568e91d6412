"""What a sweep explores: the `--sweep` axes, and the points they make (pure; no run here).

    --sweep alpha=0.1,0.2,0.4              a list: each value (a comma in a value is written \\,)
    --sweep epochs=range(10,50,10)         a range, read as Python reads it: 10, 20, 30, 40
    --sweep lr=loguniform(1e-4,1e-1)       drawn between the bounds, uniformly in their logarithm
    --sweep dropout=uniform(0,0.5)         drawn between the bounds
    --sweep layers=randint(2,6)            a whole number drawn from 2 to 6, both included
    --sweep optimizer=choice(adam,sgd)     one of the values, drawn

Without `--trials` the points are the grid: every combination of lists and ranges. With
`--trials N` they are a random search: N points, each axis drawn on its own (a list or range
uniformly among its values), from a generator seeded by `--seed`. When every axis is discrete
the N points are distinct. Values are checked against the entry point's parameter types before
anything runs (runner.sweeps); drawn reals keep six significant digits.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import product
from typing import Literal, Mapping, Sequence, Union

from runner.errors import ParameterError, UsageError
from runner.grammar import canonical_type
from runner.limits import SWEEP_POINTS
from runner.project import EntryPoint

_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_CALL = re.compile(r"^(range|uniform|loguniform|randint|choice)\((.*)\)$", re.DOTALL)
_INTEGER = re.compile(r"^[+-]?\d+$")
DRAWN = ("uniform", "loguniform", "randint", "choice")
Distribution = Literal["uniform", "loguniform", "randint", "choice"]


@dataclass(frozen=True)
class SweepAxis:
    """A list of values, or a range written out: every one is a point of the grid."""

    name: str
    values: tuple[str, ...]
    written: str = ""  # as given, for messages (a range)


@dataclass(frozen=True)
class DrawnAxis:
    """A distribution each random-search point draws from."""

    name: str
    distribution: Distribution
    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()  # choice(...)
    written: str = ""

    @property
    def discrete(self) -> bool:
        return self.distribution in ("randint", "choice")

    def size(self) -> int:
        return len(self.choices) if self.distribution == "choice" else int(self.high - self.low) + 1

    def value(self, index: int) -> str:
        """The index-th of a discrete axis's values."""
        return self.choices[index] if self.distribution == "choice" else str(int(self.low) + index)

    def draw(self, rng: random.Random) -> str:
        if self.discrete:
            return self.value(rng.randrange(self.size()))
        if self.distribution == "loguniform":
            number = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            number = rng.uniform(self.low, self.high)
        return f"{number:.6g}"


Axis = Union[SweepAxis, DrawnAxis]


@dataclass(frozen=True)
class SweepSpace:
    axes: tuple[Axis, ...]
    trials: int | None = None  # a random search of this many points; None: the grid
    seed: int | None = None  # the random search's seed (always set for a random search)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes)

    def points(self) -> list[dict[str, str]]:
        """The parameters of every point, in the order they run."""
        if self.trials is None:
            return _grid([a for a in self.axes if isinstance(a, SweepAxis)])
        return _random_search(self.axes, self.trials, random.Random(self.seed))


def parse_space(options: Sequence[str], fixed: Mapping[str, str] = {}, *, trials: int | None = None,
                seed: int | None = None) -> SweepSpace:
    """`--sweep` options with `--trials` and `--seed`; UsageError for anything malformed."""
    axes = parse_sweeps(options, fixed)
    drawn = [a.written for a in axes if isinstance(a, DrawnAxis)]
    if trials is None:
        if drawn:
            raise UsageError(f"--sweep {drawn[0]} draws values at random, so the sweep needs a number of trials",
                             hint="add --trials N (and --seed S to draw the same points again)")
        if seed is not None:
            raise UsageError("--seed seeds a random search", hint="add --trials N, or leave out --seed")
        space = SweepSpace(tuple(axes))
    else:
        if trials < 1:
            raise UsageError(f"--trials {trials}: give a number of points, 1 or more")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)  # shown, so the same points can be drawn again
        space = SweepSpace(tuple(axes), trials, seed)
        _check_distinct(axes, trials)
    _check_size(space)
    return space


def parse_sweeps(options: Sequence[str], fixed: Mapping[str, str] = {}) -> list[Axis]:
    """Each `--sweep NAME=...` option as an axis (see the module's documentation)."""
    axes: list[Axis] = []
    for option in options:
        name, sep, text = option.partition("=")
        if not sep or not name:
            raise UsageError(f"Invalid --sweep {option!r}: expected NAME=VALUE1,VALUE2,... or NAME=FUNCTION(...)",
                             hint="for example --sweep alpha=0.1,0.2,0.4 or --sweep 'lr=loguniform(1e-4,1e-1)'")
        if any(axis.name == name for axis in axes):
            raise UsageError(f"--sweep {name} is given twice; give all its values in one --sweep")
        if name in fixed:
            raise UsageError(f"Parameter {name!r} is given with -P and swept with --sweep; choose one")
        call = _CALL.match(text.strip())
        axes.append(_function(name, call.group(1), call.group(2), option) if call else
                    SweepAxis(name, _values(option, text)))
    return axes


def check_axes(space: SweepSpace, entry_point: EntryPoint) -> None:
    """Refuse axes whose kind of value the parameter's type cannot take (before any point is made)."""
    problems = []
    for axis in space.axes:
        declared = entry_point.parameter(axis.name)
        kind = canonical_type(declared.type) if declared is not None else "string"
        problem = _type_problem(axis, kind)
        if problem:
            problems.append(f"--sweep {axis.written or axis.name}: parameter {axis.name!r} is {_a(kind)} {kind}; "
                            f"{problem}")
    if problems:
        raise ParameterError("The sweep cannot give these parameters values of their type (nothing was run):\n  "
                             + "\n  ".join(problems))


def sweep_points(axes: Sequence[SweepAxis]) -> list[dict[str, str]]:
    """The grid of list axes: the cartesian product, the last axis varying fastest."""
    return _grid(list(axes))


# --- reading ---------------------------------------------------------------------------------


def _values(option: str, text: str) -> tuple[str, ...]:
    values = tuple(v.replace("\\,", ",") for v in _UNESCAPED_COMMA.split(text))
    if "" in values:
        raise UsageError(f"Invalid --sweep {option!r}: a value is empty")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise UsageError(f"Invalid --sweep {option!r}: {', '.join(map(repr, repeated))} appears twice")
    return values


def _function(name: str, function: str, arguments: str, option: str) -> Axis:
    if function == "choice":
        return DrawnAxis(name, "choice", choices=_values(option, arguments), written=option)
    texts = [a.strip() for a in arguments.split(",")] if arguments.strip() else []
    if function == "range":
        return SweepAxis(name, _range(texts, option), written=option)
    if len(texts) != 2:
        raise UsageError(f"Invalid --sweep {option!r}: {function} takes two bounds, {function}(LOW,HIGH)")
    low, high = (_number(t, option) for t in texts)
    if function == "randint":
        if not all(_INTEGER.match(t) for t in texts) or low > high:
            raise UsageError(f"Invalid --sweep {option!r}: randint takes two whole numbers, the first not above "
                             "the second (both are included)")
    elif not low < high:
        raise UsageError(f"Invalid --sweep {option!r}: the lower bound must be below the upper one")
    elif function == "loguniform" and low <= 0:
        raise UsageError(f"Invalid --sweep {option!r}: loguniform's bounds must be above 0")
    distribution: Distribution = "randint" if function == "randint" else \
        "loguniform" if function == "loguniform" else "uniform"
    return DrawnAxis(name, distribution, float(low), float(high), written=option)


def _range(texts: list[str], option: str) -> tuple[str, ...]:
    """range(stop), range(start, stop) or range(start, stop, step): the stop is not included. Whole
    numbers give whole numbers; decimals count exactly (range(0,0.3,0.1) is 0.0, 0.1, 0.2)."""
    if not 1 <= len(texts) <= 3:
        raise UsageError(f"Invalid --sweep {option!r}: range takes STOP, START,STOP or START,STOP,STEP")
    numbers = [_number(t, option) for t in texts]
    start, stop, step = (Decimal(0), numbers[0], Decimal(1)) if len(numbers) == 1 else \
        (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else Decimal(1))
    if step == 0:
        raise UsageError(f"Invalid --sweep {option!r}: the step of a range cannot be 0")
    count = max(0, math.ceil((stop - start) / step))
    if count == 0:
        raise UsageError(f"Invalid --sweep {option!r}: the range is empty (the stop is not included)")
    if count > SWEEP_POINTS.get():
        raise UsageError(f"Invalid --sweep {option!r}: the range has {count} values; a sweep has at most "
                         f"{SWEEP_POINTS.get()} points ({SWEEP_POINTS.variable})")
    return tuple(format(start + i * step, "f") for i in range(count))


def _number(text: str, option: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise UsageError(f"Invalid --sweep {option!r}: {text!r} is not a number")
    return number


def _type_problem(axis: Axis, kind: str) -> str | None:
    if not isinstance(axis, DrawnAxis) or axis.distribution == "choice" or kind in ("string", "float"):
        return None  # lists, ranges and choices: every value is type-checked with its point
    if axis.distribution == "randint":
        return None if kind == "int" else "randint draws whole numbers: list its values"
    hint = "use randint(LOW,HIGH) or range(START,STOP,STEP)" if kind == "int" else "list its values"
    return f"{axis.distribution} draws real numbers: {hint}"


def _a(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


# --- points ----------------------------------------------------------------------------------


def _grid(axes: list[SweepAxis]) -> list[dict[str, str]]:
    return [dict(zip((a.name for a in axes), values)) for values in product(*(a.values for a in axes))]


def _discrete_sizes(axes: Sequence[Axis]) -> list[int] | None:
    """How many values each axis has, when every axis has a finite number of them."""
    sizes = []
    for axis in axes:
        if isinstance(axis, DrawnAxis) and not axis.discrete:
            return None
        sizes.append(len(axis.values) if isinstance(axis, SweepAxis) else axis.size())
    return sizes


def _value(axis: Axis, index: int) -> str:
    return axis.values[index] if isinstance(axis, SweepAxis) else axis.value(index)


def _random_search(axes: Sequence[Axis], trials: int, rng: random.Random) -> list[dict[str, str]]:
    sizes = _discrete_sizes(axes)
    if sizes is None:  # a continuous axis: every point is drawn on its own
        return [{a.name: a.draw(rng) if isinstance(a, DrawnAxis) else rng.choice(a.values) for a in axes}
                for _ in range(trials)]
    points = []
    for number in rng.sample(range(math.prod(sizes)), trials):  # distinct points of the grid
        point = {}
        for axis, size in zip(reversed(axes), reversed(sizes)):
            number, index = divmod(number, size)
            point[axis.name] = _value(axis, index)
        points.append({a.name: point[a.name] for a in axes})
    return points


def _check_distinct(axes: Sequence[Axis], trials: int) -> None:
    sizes = _discrete_sizes(axes)
    if sizes is not None and trials > math.prod(sizes):
        raise UsageError(f"--trials {trials}: the swept values make only {math.prod(sizes)} distinct points",
                         hint=f"ask for {math.prod(sizes)} trials or fewer, or leave out --trials to run each point")


def _check_size(space: SweepSpace) -> None:
    total = space.trials if space.trials is not None else \
        math.prod(len(a.values) for a in space.axes if isinstance(a, SweepAxis))
    if total > SWEEP_POINTS.get():
        raise UsageError(f"The sweep has {total} points; at most {SWEEP_POINTS.get()} are run at once",
                         hint=f"sweep fewer values, or raise {SWEEP_POINTS.variable}")
