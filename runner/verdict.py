"""Does a run reproduce another (or a run card)? The verdict behind `proj rerun --check` and
`proj runs diff --exit-code`.

Built on runner.rundiff: the inputs (source, parameters, command, environment and its locked
packages) must not differ, except where the difference was asked for (`-P`, `--version`, a
re-run of the checkout at hand); every metric of the original must be there with its last value
within tolerance. Outcome details (host, duration, ...) never count. Pure: views in, rows out.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from runner.errors import UsageError
from runner.rundiff import RunDiff

INPUT_SECTIONS = ("source", "parameters", "command", "environment", "packages")


@dataclass(frozen=True)
class Tolerance:
    """How far a metric's last value may move: absolute, or relative to the original (`1%`)."""

    value: float
    relative: bool = False

    def allows(self, original: float, now: float) -> bool:
        if math.isnan(original) or math.isnan(now):
            return math.isnan(original) and math.isnan(now)
        limit = self.value * abs(original) if self.relative else self.value
        return original == now or abs(now - original) <= limit

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


EXACT = Tolerance(0.0)


@dataclass(frozen=True)
class Tolerances:
    """Per-metric tolerances: exact names first, then the first glob pattern that matches."""

    rules: tuple[tuple[str, Tolerance], ...] = ()

    def of(self, metric: str) -> Tolerance:
        for pattern, tolerance in self.rules:
            if pattern == metric:
                return tolerance
        for pattern, tolerance in self.rules:
            if fnmatch.fnmatchcase(metric, pattern):
                return tolerance
        return EXACT


def parse_tolerances(texts: list[str]) -> Tolerances:
    """`--tolerance NAME=VALUE` (repeatable): VALUE a number (absolute), a percentage (relative to
    the original value) or `inf` (not compared); NAME a metric or a glob pattern (`*`, `loss_*`)."""
    rules = []
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--tolerance {text!r}: expected NAME=VALUE", hint="e.g. --tolerance rmse=1e-6, "
                             "--tolerance 'loss_*=0.5%', --tolerance '*=1e-9'")
        rules.append((name.strip(), _tolerance(text, value.strip())))
    return Tolerances(tuple(rules))


def _tolerance(text: str, value: str) -> Tolerance:
    relative = value.endswith("%")
    try:
        number = float(value[:-1] if relative else value)
    except ValueError:
        number = -1.0
    if math.isnan(number) or number < 0:
        raise UsageError(f"--tolerance {text!r}: {value!r} is not a tolerance (a number 0 or more, "
                         "a percentage such as 0.5%, or inf)")
    return Tolerance(number / 100 if relative else number, relative)


@dataclass(frozen=True)
class CheckRow:
    what: str  # "metric rmse", "parameters: alpha", "packages: numpy", ...
    original: Any
    now: Any
    result: str  # same | within | differs | missing | new | why a difference was wanted ("asked for -P", ...)
    tolerance: str = ""
    metric: str | None = None  # the metric's name, for rows about one

    @property
    def fails(self) -> bool:
        return self.result in ("differs", "missing")


@dataclass(frozen=True)
class Verdict:
    original: str  # run ids
    now: str
    rows: tuple[CheckRow, ...] = field(default=())

    @property
    def reproduced(self) -> bool:
        return not any(row.fails for row in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if row.fails]

    def as_dict(self) -> dict[str, Any]:
        return {"original": self.original, "now": self.now, "reproduced": self.reproduced,
                "rows": [{**asdict(row), "fails": row.fails} for row in self.rows]}


def judge(diff: RunDiff, original: dict[str, Any], now: dict[str, Any], tolerances: Tolerances,
          asked_for: Mapping[str, str] | None = None) -> Verdict:
    """The verdict on `now` (a run view) against `original` (a run's or a card's view).

    `asked_for`: input sections (`source`) or rows (`parameters: alpha`) whose difference was
    wanted, each with the reason shown in its result (`asked for (-P)`, `the checkout`)."""
    rows = [_input_row(change.section, change.name, change.a, change.b, asked_for or {})
            for change in diff.changes if change.section in INPUT_SECTIONS]
    if not rows:
        rows.append(CheckRow("inputs (source, parameters, command, environment)", "", "", "same"))
    rows += _metric_rows(_last_values(original), _last_values(now), tolerances)
    return Verdict(diff.a, diff.b, tuple(rows))


def _input_row(section: str, name: str, a: Any, b: Any, asked_for: Mapping[str, str]) -> CheckRow:
    what = section if name == section else f"{section}: {name}"  # "command", not "command: command"
    return CheckRow(what, a, b, asked_for.get(what) or asked_for.get(section) or "differs")


def _metric_rows(original: dict[str, Any], now: dict[str, Any], tolerances: Tolerances) -> list[CheckRow]:
    rows = []
    for name in sorted(set(original) | set(now)):
        tolerance = tolerances.of(name)
        if name not in now:
            rows.append(CheckRow(f"metric {name}", original[name], None, "missing", str(tolerance), name))
        elif name not in original:
            rows.append(CheckRow(f"metric {name}", None, now[name], "new", str(tolerance), name))
        else:
            rows.append(CheckRow(f"metric {name}", original[name], now[name],
                                 _compare(original[name], now[name], tolerance), str(tolerance), name))
    return rows


def _compare(a: Any, b: Any, tolerance: Tolerance) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return "same" if a == b else "differs"
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        return "same"
    if math.isinf(tolerance.value):
        return "within"
    return "within" if tolerance.allows(float(a), float(b)) else "differs"


def _last_values(view: dict[str, Any]) -> dict[str, Any]:
    return {key: summary.get("last") if isinstance(summary, dict) else summary
            for key, summary in (view.get("metrics") or {}).items()}


def describe_verdict(verdict: Verdict) -> str:
    """The verdict as an aligned table with its conclusion on the last line."""
    headers = ["CHECK", "ORIGINAL", "NOW", "TOLERANCE", "RESULT"]
    body = [[row.what, _shown(row.original), _shown(row.now), row.tolerance, row.result.upper() if row.fails
             else row.result] for row in verdict.rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *body)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [headers, *body]]
    lines.append(verdict_line(verdict))
    return "\n".join(lines)


def verdict_line(verdict: Verdict) -> str:
    if verdict.reproduced:
        return f"reproduced: run {verdict.now[:12]} matches run {verdict.original[:12]}"
    failed = ", ".join(row.what for row in verdict.failures)
    return f"NOT reproduced: run {verdict.now[:12]} differs from run {verdict.original[:12]} in {failed}"


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.10g}"
    text = str(value).rstrip("\n")
    text = text if "\n" not in text else text.splitlines()[0] + " ..."
    return text if len(text) <= 40 else text[:37] + "..."
