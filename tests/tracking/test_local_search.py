"""The local store's searches and changes: run filters as SQL (checked against the same filter
matched in memory, runner.runmatch), counts, sweep prefixes, deleted runs, tags, names, purges."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pytest

from helpers.records import new_record
from runner import lifecycle
from runner.capture.runs import CapturedChild, Settled
from runner.errors import UsageError
from runner.lifecycle import Ending
from runner.runfilter import parse_filter
from runner.runmatch import matches, run_tags
from runner.runsearch import find_runs, resolve_sweep
from runner.tracking.base import MlflowData, RunQuery, RunRecord, RunStatus, SourceRecord
from runner.tracking.local import LocalStore

SWEEP_A = "5eed" + "a" * 28
SWEEP_B = "5eef" + "b" * 28


def _finished(store: LocalStore, *, metrics: dict[str, float] | None = None, status: RunStatus = RunStatus.FINISHED,
              exit_code: int | None = 0, seconds: float = 10, logged: MlflowData | None = None,
              **fields) -> RunRecord:
    record = lifecycle.start(store, new_record(**fields))
    lines = [json.dumps({"key": key, "value": value}) for key, value in (metrics or {}).items()]
    (store.output_dir(record.run_id) / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))
    ended = lifecycle.end(store, record, Ending(status, exit_code, record.start_time + seconds)).record
    if logged is not None:  # as if the project had logged these with MLflow (runner.capture)
        store.save_settled(ended, Settled(logged, []))
    return ended


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[LocalStore, list[RunRecord]]:
    store = LocalStore(tmp_path_factory.mktemp("search") / ".proj")
    base = 1_700_000_000.0
    made = [
        _finished(store, parameters={"alpha": "0.1", "opt": "Adam"}, tags={"team": "vision"},
                  metrics={"rmse": 0.9, "mae": 0.5}, start_time=base, sweep_id=SWEEP_A, run_name="sweep-1"),
        _finished(store, parameters={"alpha": "0.5", "opt": "sgd"}, tags={"team": "vision", "stage": "try"},
                  metrics={"rmse": 0.4}, start_time=base + 1, sweep_id=SWEEP_A, run_name="sweep-2"),
        _finished(store, parameters={"alpha": "1e-3", "opt": "adam"}, metrics={"rmse": math.nan},
                  start_time=base + 2, sweep_id=SWEEP_B, run_name="other-sweep", experiment="tuning"),
        _finished(store, parameters={"alpha": "n/a"}, metrics={"rmse": math.inf}, status=RunStatus.FAILED,
                  exit_code=3, start_time=base + 3, seconds=120, entry_point="train", run_name="broken", user="ann",
                  source=SourceRecord(uri="/elsewhere", kind="local", path="/elsewhere")),
        _finished(store, parameters={}, start_time=base + 4, status=RunStatus.KILLED, exit_code=None,
                  logged=MlflowData(params={"alpha": "0.25", "layers": "3"},
                                    tags={"team": "logged", "mlflow.source.type": "LOCAL"})),
        _finished(store, parameters={"alpha": "0.5"}, tags={"team": "nlp"}, metrics={"rmse": 0.4, "mae": -1},
                  start_time=base + 5, run_name="50% [draft]*"),
    ]
    running = lifecycle.start(store, new_record(parameters={"alpha": "0.5"}, start_time=base + 6, run_name="live"))
    return store, [store.get_run(r.run_id) for r in made] + [running]


FILTERS = [
    "metrics.rmse < 0.8", "metrics.rmse >= 0.4", "metrics.rmse != 0.4", "metrics.rmse = 0.4", "metrics.rmse > 1",
    "metrics.mae <= 0", "metrics.missing < 1", "metrics.rmse < 1 and metrics.mae > 0",
    "params.alpha = '0.5'", "params.alpha != '0.5'", "params.alpha > 0.05", "params.alpha <= 0.1",
    "params.alpha = 0.001", "params.opt IS NULL", "params.layers = '3'", "params.opt LIKE 'a%'",
    "params.opt ILIKE 'A%'", "params.opt LIKE '_dam'",
    "tags.team = 'vision'", "tags.team != 'vision'", "tags.team IS NOT NULL", "tags.team IS NULL",
    "tags.stage LIKE 't%'", "tags.mlflow.source.type = 'LOCAL'", "tags.team = 'logged'",
    "status = 'FINISHED'", "status != 'FINISHED'", "status IN ('FAILED', 'KILLED')", "status NOT IN ('RUNNING')",
    "run_name LIKE 'sweep-%'", "run_name LIKE '50% [%]*'", "run_name LIKE '%*'", "run_name ILIKE 'SWEEP%'",
    "entry_point = 'train'", "sweep_id LIKE '5eed%'", f"sweep_id = '{SWEEP_B}'", "experiment = 'tuning'",
    "exit_code = 0", "exit_code != 0", "duration > 60", "start_time >= 1700000002000", "end_time < 1700000011000",
    "user_id = 'tester'", "backend = 'local'", "source = '/project'", "commit = 'x'",
    "metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'vision'",
]


@pytest.mark.parametrize("text", FILTERS)
def test_sql_finds_what_the_filter_matches(filled, text: str) -> None:
    store, records = filled
    run_filter = parse_filter(text)
    expected = [r.run_id for r in sorted(records, key=lambda r: -r.start_time) if matches(run_filter, r)]
    query = RunQuery(filter=run_filter, limit=100)
    assert [r.run_id for r in store.list_runs(query)] == expected
    assert store.count_runs(query) == len(expected)


def test_the_filters_are_not_all_trivial(filled) -> None:
    """Nearly every filter keeps some runs and drops others, so the comparison above means something."""
    _, records = filled
    trivial = {text for text in FILTERS if not 0 < sum(matches(parse_filter(text), r) for r in records) < len(records)}
    assert trivial == {"metrics.missing < 1", "commit = 'x'", "backend = 'local'"}


def test_pages_and_their_count(filled) -> None:
    store, records = filled
    page = find_runs(store, RunQuery(limit=4))
    assert [r.run_id for r in page.records] == [r.run_id for r in records[::-1][:4]]
    assert (page.total, page.remaining) == (len(records), len(records) - 4)
    last = find_runs(store, RunQuery(limit=4, offset=4))
    assert (len(last.records), last.remaining) == (len(records) - 4, 0)
    beyond = find_runs(store, RunQuery(limit=4, offset=40))
    assert (beyond.records, beyond.total) == ([], len(records))


@pytest.mark.parametrize(("query", "expected"), [
    (RunQuery(sort_tag="team"), ["logged", "nlp", "vision", "vision", None, None, None]),
    (RunQuery(sort_tag="team", descending=True), ["vision", "vision", "nlp", "logged", None, None, None]),
])
def test_sorts_by_a_tag(filled, query: RunQuery, expected: list) -> None:
    store, _ = filled
    assert [run_tags(r).get("team") for r in store.list_runs(query)] == expected


def _by_metric_in_memory(records: list[RunRecord], key: str, descending: bool) -> list[str]:
    """The local store's metric order, spelled out: numbers (either way), then NaN, then runs
    without a value; newest first among equals."""
    def last(record: RunRecord) -> float | None:
        return (record.metrics.get(key) or {}).get("last")

    newest = sorted(records, key=lambda r: -r.start_time)
    numbers = [r for r in newest if last(r) is not None and not math.isnan(last(r))]
    numbers.sort(key=lambda r: last(r), reverse=descending)  # stable: ties stay newest first
    nans = [r for r in newest if last(r) is not None and math.isnan(last(r))]
    return [r.run_id for r in numbers + nans + [r for r in newest if last(r) is None]]


@pytest.mark.parametrize("few_runs", [0, 500])  # 0: nothing is narrow, the metric's index is read in order
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("text", "experiment"), [
    (None, None), ("metrics.rmse != 0.9", None), ("params.alpha = '0.5'", None), ("tags.team IS NOT NULL", None),
    ("status != 'FAILED' and params.opt IS NULL", None), ("metrics.mae < 1", None), (None, "Default"),
    ("params.alpha != '1e-3'", "Default")])
def test_sorts_by_a_metric_page_by_page(filled, monkeypatch, few_runs: int, text: str | None, experiment: str | None,
                                        descending: bool) -> None:
    """Numbers, infinity, ties, NaN, runs without the metric (one still running), with a filter or
    not, starting from a narrow filter's runs or from the metric's order: every page of two follows
    on from the one before, in the order of the whole list."""
    from runner.tracking import local

    monkeypatch.setattr(local, "FEW_RUNS", few_runs)
    store, records = filled
    run_filter = parse_filter(text) if text else None
    kept = [r for r in records if (run_filter is None or matches(run_filter, r))
            and experiment in (None, r.experiment)]
    expected = _by_metric_in_memory(kept, "rmse", descending)
    assert len(expected) > 1

    def page(limit: int, offset: int = 0) -> list[str]:
        return [r.run_id for r in store.list_runs(RunQuery(filter=run_filter, experiment=experiment, sort_metric="rmse",
                                                           descending=descending, limit=limit, offset=offset))]

    assert page(100) == expected
    assert [run_id for offset in range(0, len(expected) + 2, 2) for run_id in page(2, offset)] == expected
    assert store.list_runs(RunQuery(sort_metric="absent", limit=3, offset=1)) == store.list_runs(RunQuery(limit=3,
                                                                                                        offset=1))


def test_sweeps_by_a_unique_prefix(filled) -> None:
    store, _ = filled
    assert resolve_sweep(store, "5eeda") == SWEEP_A
    assert resolve_sweep(store, SWEEP_B) == SWEEP_B
    with pytest.raises(UsageError, match="Sweep id prefix '5ee' is ambiguous"):
        resolve_sweep(store, "5ee")
    with pytest.raises(Exception, match="No sweep 'ffff'"):
        resolve_sweep(store, "ffff")
    assert [r.run_name for r in find_runs(store, RunQuery(sweep="5eeda")).records] == ["sweep-2", "sweep-1"]


def test_deleting_is_a_flag_beside_the_status(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".proj")
    first = _finished(store, status=RunStatus.FAILED, exit_code=2, tags={"team": "a"})
    second = _finished(store)
    deleted = store.set_deleted(first.run_id, True)
    assert deleted.deleted and deleted.deleted_time is not None and deleted.status is RunStatus.FAILED
    assert [r.run_id for r in store.list_runs(RunQuery())] == [second.run_id]
    assert [r.run_id for r in store.list_runs(RunQuery(deleted=True))] == [first.run_id]
    assert {r.run_id for r in store.list_runs(RunQuery(deleted=None))} == {first.run_id, second.run_id}
    assert store.count_runs(RunQuery(filter=parse_filter("tags.team = 'a'"))) == 0  # deleted runs only if asked
    assert store.get_run(first.run_id[:8]).deleted  # found by id all the same
    restored = store.set_deleted(first.run_id, False)
    assert not restored.deleted and restored.deleted_time is None and restored.status is RunStatus.FAILED


def test_tags_names_and_descriptions_are_kept_and_searched(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".proj")
    run = _finished(store, tags={"team": "a", "old": "x"}, run_name="before")
    tagged = store.set_tags(run.run_id, {"team": "b", "new": "y"}, ["old"])
    assert tagged.tags == {"team": "b", "new": "y"}
    assert store.count_runs(RunQuery(filter=parse_filter("tags.team = 'b' and tags.old IS NULL"))) == 1
    described = store.describe_run(run.run_id, "after", "why it ran")
    assert (described.run_name, described.description) == ("after", "why it ran")
    assert store.count_runs(RunQuery(filter=parse_filter("run_name = 'after'"))) == 1
    assert store.describe_run(run.run_id, None, "").run_name == "after"


def test_purging_removes_the_record_and_the_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".proj")
    run = _finished(store, parameters={"a": "1"}, tags={"t": "1"}, metrics={"m": 1.0})
    child = new_record(run_id=uuid.uuid4().hex, parent_run_id=run.run_id, status=RunStatus.FINISHED,
                       end_time=run.end_time, exit_code=None)
    store.save_settled(run, Settled(MlflowData(), [CapturedChild(child, {})]))
    store.purge_run(run.run_id)
    assert not (tmp_path / ".proj" / "runs" / run.run_id).exists()
    assert [r.run_id for r in store.list_runs(RunQuery(deleted=None))] == [child.run_id]
    database = store._database.connection(create=False)
    for table in ("runs", "params", "tags", "metric_summaries"):
        assert database.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (run.run_id,)).fetchone() == (0,)


def test_nested_runs_are_left_out_when_asked_and_counted_alike(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".proj")
    parents = [_finished(store, start_time=1_700_000_000.0 + i) for i in range(3)]
    children = [new_record(run_id=uuid.uuid4().hex, parent_run_id=parents[0].run_id, status=RunStatus.FINISHED,
                           end_time=parents[0].end_time, exit_code=None, start_time=parents[0].start_time + 1,
                           mlflow=MlflowData(tags={"mlflow.parentRunId": parents[0].run_id})) for _ in range(3)]
    store.save_settled(parents[0], Settled(MlflowData(), [CapturedChild(child, {}) for child in children]))
    store.set_deleted(children[2].run_id, True)
    store.set_deleted(parents[2].run_id, True)
    for nested, expected in ((False, [parents[1], parents[0]]), (True, [children[1], children[0], parents[1],
                                                                          parents[0]])):
        whole = find_runs(store, RunQuery(limit=50, nested=nested))  # the last page: its own length
        assert sorted(r.run_id for r in whole.records) == sorted(r.run_id for r in expected)
        first = find_runs(store, RunQuery(limit=1, nested=nested))  # counted by the store
        assert (first.total, first.remaining) == (len(expected), len(expected) - 1)
    # The same count through the general query (a filter beside), so both ways agree.
    filtered = find_runs(store, RunQuery(limit=1, nested=False, filter=parse_filter("status = 'FINISHED'")))
    assert filtered.total == 2


@pytest.mark.parametrize("text", ["metrics.rmse < 0.8", "params.alpha = '0.5'", "tags.team IS NOT NULL", ""])
def test_a_sorted_page_and_the_count_agree(filled, text: str) -> None:
    store, _ = filled
    run_filter = parse_filter(text) if text else None
    every = find_runs(store, RunQuery(limit=100, filter=run_filter)).records
    for sort in ({"sort_metric": "rmse"}, {"sort_parameter": "alpha"}, {"sort_tag": "team"}, {"sort_by": "status"}):
        page = find_runs(store, RunQuery(limit=1, filter=run_filter, **sort))
        assert (page.total, len(page.records)) == (len(every), min(1, len(every))), sort


def test_counts_of_filters_leave_out_deleted_and_nested_runs(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".proj")
    runs = [_finished(store, parameters={"alpha": alpha}, tags={"team": team}, metrics={"rmse": rmse},
                      start_time=1_700_000_000.0 + i)
            for i, (alpha, team, rmse) in enumerate([("0.5", "a", 0.1), ("0.5", "a", 0.9), ("0.5", "b", 0.2),
                                                     ("0.1", "a", 0.3), ("0.5", "a", 0.4)])]
    child = new_record(run_id=uuid.uuid4().hex, parent_run_id=runs[0].run_id, status=RunStatus.FINISHED,
                       end_time=runs[0].end_time, exit_code=None, start_time=runs[0].start_time + 1,
                       mlflow=MlflowData(tags={"mlflow.parentRunId": runs[0].run_id, "team": "a"}))
    store.save_settled(runs[0], Settled(MlflowData(), [CapturedChild(child, {})]))
    store.set_deleted(runs[4].run_id, True)
    for text, expected in (("params.alpha = '0.5' and tags.team = 'a'", 2), ("metrics.rmse < 0.5", 3),
                           ("metrics.rmse < 0.5 and params.alpha = '0.5' and tags.team != 'b'", 1),
                           ("tags.team = 'a' and params.alpha IS NOT NULL and metrics.rmse > 0", 3)):
        query = RunQuery(limit=1, nested=False, filter=parse_filter(text))
        assert find_runs(store, query).total == expected, text
    assert find_runs(store, RunQuery(limit=1, parameters=(("alpha", "0.5"),))).total == 3  # not the deleted run
    children = parse_filter(f"tags.mlflow.parentRunId = '{runs[0].run_id}'")
    assert find_runs(store, RunQuery(limit=1, filter=children)).records[0].run_id == child.run_id
