"""runner.rundiff: `compared_values` lists exactly what `diff_runs` compares, so a side-by-side
view of all rows (proj ui's compare page) and the differences (`proj runs diff`) agree."""

from __future__ import annotations

import math

from runner.rundiff import compared_values, diff_runs
from runner.tracking.base import EnvironmentRecord, ParameterRecord, RunRecord, RunStatus, SourceRecord


def view(lr: str, *, commit: str = "abc", loss: float = 0.5, duration: float = 10.0, extra: str | None = None,
         status: RunStatus = RunStatus.FINISHED) -> dict:
    parameters = [ParameterRecord("lr", "float", lr, float(lr), lr, True)]
    if extra is not None:
        parameters.append(ParameterRecord("extra", "string", extra, extra, extra, False))
    record = RunRecord(
        experiment="e", run_name="r", entry_point="main", command=f"python train.py --lr {lr}",
        source=SourceRecord(uri="/p", kind="local", path="/p", commit=commit), parameters=parameters,
        environment=EnvironmentRecord(kind="local"), user="u", host="h", platform="Linux", python_version="3.11",
        proj_version="t", launcher="1:1", start_time=100.0, end_time=100.0 + duration, run_id=lr.replace(".", ""),
        status=status, metrics={"loss": {"last": loss}})
    return record.to_dict()


def same(x: object, y: object) -> bool:
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def test_every_change_is_among_the_compared_values_with_both_values():
    pairs = [(view("0.1"), view("0.2", commit="def", loss=math.nan, extra="x", status=RunStatus.FAILED)),
             (view("0.1", loss=math.nan), view("0.1", loss=math.nan, duration=10.04)),
             (view("0.1", duration=10.0), view("0.1", duration=12.0))]
    for a, b in pairs:
        values_a, values_b = compared_values(a), compared_values(b)
        changes = diff_runs(a, b).changes
        for change in changes:
            key = (change.section, change.name)
            assert key in values_a or key in values_b
            assert same(values_a.get(key), change.a) and same(values_b.get(key), change.b)
        changed = {(c.section, c.name) for c in changes}
        unchanged = set(values_a) & set(values_b) - changed
        # NaN equals NaN; durations within a tenth of a second are the same
        assert all(same(values_a[k], values_b[k]) or k == ("outcome", "duration") for k in unchanged)


def test_compared_values_cover_every_section_in_the_order_a_diff_lists_them():
    values = compared_values(view("0.1", extra="x"))
    sections = list(dict.fromkeys(section for section, _ in values))
    assert sections == ["source", "location", "parameters", "command", "environment", "cache", "outcome",
                        "metrics"]
    assert values[("parameters", "lr")] == 0.1 and values[("parameters", "extra")] == "x"
    assert values[("outcome", "duration")] == 10.0 and values[("metrics", "loss")] == 0.5
