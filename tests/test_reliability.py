"""Faults and load: interrupted runs, broken stores, leftovers of killed runs, huge output.

Figures these tests measure (peak memory, bytes compared, processes left) are written to
$PROJ_TEST_ARTIFACTS/reliability.json when that variable is set; docs/reliability.md reports them.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_proj
from helpers.exitcodes import SETUP
from helpers.figures import record_figure
from helpers.filesystems import fill, mounted
from helpers.gitrepo import GitRepo
from helpers.processes import alive, wait_for_file

SPEC = """\
name: faults
entry_points:
  main:
    parameters:
      word: {type: string, default: hello}
    command: "echo ran {word}"
  hang:
    command: "sleep 300 & echo \\"$$ $!\\" > pids.txt; wait"
  flood:
    parameters:
      megabytes: {type: int, default: 1024}
    command: "python3 flood.py {megabytes}"
"""
# Writes MEGABYTES MiB of awkward output — short lines, one 64 MiB line, bytes that are not
# UTF-8, carriage returns — to stdout and stderr, and the SHA-256 of it all to flood.sha256.
FLOOD = """\
import hashlib, os, random, sys
total = int(sys.argv[1]) * 1024 * 1024
rng = random.Random(1)
digest = hashlib.sha256()
written = 0
pieces = [b"short line\\n", b"\\xff\\xfe not utf-8 \\xc3\\x28\\n", b"progress 42%\\r", b"x" * 8191 + b"\\n"]
huge = b"L" * (64 * 1024 * 1024) + b"\\n"
while written < total:
    chunk = huge if written == 0 else b"".join(rng.choice(pieces) for _ in range(64))
    chunk = chunk[: total - written]
    os.write(2 if rng.random() < 0.2 else 1, chunk)  # single writes keep the order exact
    digest.update(chunk)
    written += len(chunk)
open("flood.sha256", "w").write(digest.hexdigest())
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "flood.py").write_text(FLOOD)
    return folder


def runs_in(store: Path) -> list[dict]:
    if not (store / "proj.db").exists():
        return []
    result = run_proj("runs", "list", "--tracking-uri", str(store), "-n", "1000", "--format", "json", check_exit=0)
    return json.loads(result.stdout)


def test_repeated_interrupts_at_random_moments_leave_nothing_behind(project):
    """SIGINT, SIGTERM and SIGHUP, each several times, at random points of a run."""
    rng = random.Random(7)
    outcomes = []
    for attempt in range(9):
        signum = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)[attempt % 3]
        (project / "pids.txt").unlink(missing_ok=True)
        proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang"], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids = [int(p) for p in wait_for_file(project / "pids.txt").split()]
        time.sleep(rng.uniform(0, 0.3))
        proj.send_signal(signum)
        proj.wait(timeout=30)
        outcomes.append((proj.returncode == 128 + signum, any(alive(pid) for pid in pids)))
    runs = runs_in(project / ".proj")
    assert [ok for ok, _ in outcomes] == [True] * 9
    assert [left for _, left in outcomes] == [False] * 9
    assert [r["status"] for r in runs] == ["KILLED"] * 9 and all(r["end_time"] for r in runs)
    record_figure("interrupts", {"runs": 9, "recorded_killed": 9, "processes_left": 0})


def test_launcher_killed_repeatedly_leaves_no_orphan_and_lost_runs(project):
    left = 0
    for _ in range(3):
        (project / "pids.txt").unlink(missing_ok=True)
        proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang"], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids = [int(p) for p in wait_for_file(project / "pids.txt").split()]
        proj.kill()
        proj.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left += sum(alive(pid) for pid in pids)
    assert left == 0
    assert [r["status"] for r in runs_in(project / ".proj")] == ["RUNNING"] * 3  # until refreshed
    run_proj("runs", "refresh", "--tracking-uri", str(project / ".proj"), check_exit=0)
    assert [r["status"] for r in runs_in(project / ".proj")] == ["LOST"] * 3
    record_figure("launcher_sigkill", {"runs": 3, "recorded_lost": 3, "processes_left": left})


def test_read_only_store_is_refused_before_anything_runs(project, tmp_path):
    store = tmp_path / "store"
    run_proj("run", ".", "--tracking-uri", str(store), cwd=project, check_exit=0)
    before = (store / "proj.db").read_bytes()
    with mounted("readonly", tmp_path / "ro-store", source=store) as readonly:
        result = run_proj("run", ".", "-P", "word=never", "--tracking-uri", str(readonly), cwd=project)
    assert result.returncode == SETUP, result.stderr
    assert "ran never" not in result.stdout and "Cannot" in result.stderr and "Traceback" not in result.stderr
    assert (store / "proj.db").read_bytes() == before and len(runs_in(store)) == 1


def test_full_store_is_refused_and_nothing_half_written(project, tmp_path):
    with mounted("tmpfs", tmp_path / "full", size="4m") as full:  # room for a run and its reserve
        store = full / "store"
        run_proj("run", ".", "--tracking-uri", str(store), cwd=project, check_exit=0)
        ballast = full / "ballast"
        fill(ballast)  # the file system full to the last byte
        runs_before = sorted(p.name for p in (store / "runs").iterdir())
        result = run_proj("run", ".", "-P", "word=never", "--tracking-uri", str(store), cwd=project)
        assert result.returncode == SETUP, result.stdout + result.stderr
        assert "ran never" not in result.stdout and "Traceback" not in result.stderr
        assert sorted(p.name for p in (store / "runs").iterdir()) == runs_before
        ballast.unlink()
        runs = runs_in(store)
        assert [r["status"] for r in runs] == ["FINISHED"]  # the store is still consistent
        run_proj("run", ".", "--tracking-uri", str(store), cwd=project, check_exit=0)


def test_leftovers_of_a_killed_fetch_are_cleaned_up(tmp_path, isolated_home):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": SPEC})
    run_proj("run", repo.url, cwd=tmp_path, check_exit=0)
    mirror = next(p for p in (isolated_home / "git").iterdir() if p.is_dir())
    (mirror / "shallow.lock").write_text("")  # what git leaves when killed mid-fetch
    (mirror / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (mirror / "refs" / "heads" / "main.lock").write_text("")
    repo.commit({"new.txt": "x"}, "new")
    result = run_proj("run", repo.url, "-P", "word=again", cwd=tmp_path, check_exit=0)
    assert "ran again" in result.stdout
    (mirror / "HEAD").unlink()  # a mirror whose `git init` never finished
    run_proj("run", repo.url, cwd=tmp_path, check_exit=0)


# Launches proj and prints its rusage as JSON. Linux carries a process's peak memory across
# exec, so proj must be started from this small interpreter: forked straight from pytest, it
# would report the (large) test process's own peak.
_MEASURE = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr = child.stderr.read()
_pid, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss,
                  "stderr": stderr.decode(errors="replace")}))
"""


@pytest.mark.slow
def test_a_gigabyte_of_hostile_output_streams_with_bounded_memory(project):
    started = time.monotonic()
    measured = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "runner", "run", ".",
                               "-e", "flood"], cwd=project, capture_output=True, text=True, check=True)
    elapsed = time.monotonic() - started
    result = json.loads(measured.stdout)
    assert result["code"] == 0, result["stderr"]
    run_id = next(line.split()[2] for line in result["stderr"].splitlines() if " started " in line)
    log = project / ".proj" / "runs" / run_id / "output.log"
    digest = hashlib.sha256()
    with open(log, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    assert log.stat().st_size == 1024 * 1024 * 1024
    assert digest.hexdigest() == (project / "flood.sha256").read_text()
    peak_mib = result["maxrss_kib"] / 1024  # proj and the processes it waited for, whichever peaked
    assert peak_mib < 300, f"peak RSS {peak_mib:.0f} MiB"
    record_figure("gigabyte_output", {"bytes": log.stat().st_size, "bytes_lost": 0, "peak_rss_mib": round(peak_mib),
                                      "seconds": round(elapsed, 1), "longest_line_mib": 64})


def test_secrets_never_reach_records_cards_or_proj_messages(project, tmp_path):
    secret = "s3cr3t-Value-4711"
    (project / "MLproject").write_text(SPEC + "  leak:\n    parameters: {token: string}\n"
                                              "    command: \"echo received ${{#PROJ_SECRET_CHECK}} {token} >/dev/null;"
                                              " echo length ${{#API_TOKEN}}\"\n")
    env = {"API_TOKEN": secret, "PROJ_SECRET_CHECK": secret}
    result = run_proj("run", ".", "-e", "leak", "-P", f"token={secret}", cwd=project, env=env, check_exit=0)
    assert f"length {len(secret)}" in result.stdout  # the program itself still gets the value
    assert secret not in result.stderr
    dry = run_proj("run", ".", "-e", "leak", "-P", f"token={secret}", "--dry-run", cwd=project, env=env, check_exit=0)
    assert secret not in dry.stdout
    run_id = next(line.split()[2] for line in result.stderr.splitlines() if " started " in line)
    shown = run_proj("runs", "show", run_id, "--format", "json", cwd=project, env=env, check_exit=0).stdout
    card = run_proj("runs", "export", run_id, cwd=project, env=env, check_exit=0).stdout
    for text in (shown, card):
        assert secret not in text and "***" in text
    for path in (project / ".proj").rglob("*"):  # database, its WAL, logs, attachments
        assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    with sqlite3.connect(project / ".proj" / "proj.db") as db:
        rows = db.execute("SELECT value FROM params WHERE run_id = ?", (run_id,)).fetchall()
    assert rows == [("***",)]
