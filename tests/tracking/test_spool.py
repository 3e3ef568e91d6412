"""The spool: pending updates kept on disk, whole or not at all, and read back in order."""

from __future__ import annotations

import json

from runner.tracking.spool import Spool

RUN_A, RUN_B = "a" * 32, "b" * 32


def test_entries_come_back_in_the_order_they_were_kept_with_their_files(tmp_path, isolated_home):
    spool = Spool()
    log = tmp_path / "output.log"
    log.write_bytes(b"the log\n")
    first = spool.add(store="mlflow", uri="http://one", run_id=RUN_A, operations=[{"op": "x", "n": 1}],
                      files={"proj/output.log": log, "lock.txt": b"pinned==1\n"})
    second = spool.add(store="mlflow", uri="http://two", run_id=RUN_B, operations=[{"op": "x", "n": 2}])
    third = spool.add(store="mlflow", uri="http://one", run_id=RUN_A, operations=[{"op": "x", "n": 3}])

    assert spool.root == isolated_home / "spool"
    assert [e.path for e in spool.entries()] == [first.path, second.path, third.path]
    assert [e.operations[0]["n"] for e in spool.entries(uri="http://one")] == [1, 3]
    assert [e.path for e in spool.entries(run_id=RUN_B)] == [second.path]
    log.unlink()  # the store removes its local files once they are spooled: the entry keeps its own
    assert (first.files / "proj" / "output.log").read_bytes() == b"the log\n"
    assert (first.files / "lock.txt").read_bytes() == b"pinned==1\n"
    assert json.loads(first.path.read_text())["uri"] == "http://one"
    assert oct(first.path.stat().st_mode & 0o777) == "0o600"


def test_half_written_entries_are_never_read(tmp_path):
    spool = Spool(tmp_path / "spool")
    kept = spool.add(store="mlflow", uri="http://one", run_id=RUN_A, operations=[])
    (spool.root / f".0-{RUN_B}-x.json.partial").write_text("{")  # a writer died mid-write
    (spool.root / f"0-{RUN_B}-y.files").mkdir()  # files written, JSON never renamed into place
    (spool.root / f"0-{RUN_B}-z.json").write_text('{"format": 99}')  # a newer proj's format
    assert [e.path for e in spool.entries()] == [kept.path]
    assert spool.has_run(RUN_A)


def test_removing_a_sent_entry_removes_its_files(tmp_path):
    spool = Spool(tmp_path / "spool")
    entry = spool.add(store="mlflow", uri="http://one", run_id=RUN_A, operations=[], files={"f": b"x"})
    spool.remove(entry)
    spool.remove(entry)  # a second sender finding it gone is fine
    assert spool.entries() == [] and not entry.files.exists() and not spool.has_run(RUN_A)
