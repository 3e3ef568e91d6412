"""LocalStore.list_experiments: every experiment that holds runs, with how many and how many are
running; deleted runs are not counted (proj ui's experiment list)."""

from __future__ import annotations

from helpers.records import new_record
from runner import lifecycle
from runner.lifecycle import Ending
from runner.runmanage import delete_runs, restore_runs
from runner.tracking.base import ExperimentSummary, RunStatus
from runner.tracking.local import LocalStore


def test_experiments_with_their_run_counts(tmp_path):
    store = LocalStore(tmp_path / ".proj")
    assert store.list_experiments() == []  # no store yet: nothing, and nothing created
    assert not (tmp_path / ".proj").exists()
    finished = [lifecycle.start(store, new_record(experiment=name)) for name in ("beta", "alpha", "alpha", "gone")]
    for record in finished:
        lifecycle.end(store, record, Ending(RunStatus.FINISHED, 0, record.start_time + 1))
    lifecycle.start(store, new_record(experiment="alpha"))  # still running
    delete_runs(store, [finished[0].run_id, finished[3].run_id])
    ids = {e.name: e.experiment_id for e in store.list_experiments()}
    assert store.list_experiments() == [ExperimentSummary("alpha", ids["alpha"], 3, 1)]
    restored = LocalStore(tmp_path / ".proj")
    restore_runs(restored, [finished[0].run_id])
    assert [(e.name, e.runs, e.active) for e in restored.list_experiments()] == [("alpha", 3, 1), ("beta", 1, 0)]
