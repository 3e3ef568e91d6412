"""Processes that try to escape the run (issue 18): whatever the command starts ends with the run.

Every test goes through the `proj` CLI. The entry point leaves processes behind in each way a
process can leave its parent: in the background of its own process group, double-forked (its
parent exits, so it is orphaned), in a session of its own (`setsid`), and both. However the run
ends (finished, Ctrl-C or SIGTERM, proj killed with SIGKILL), none of them may survive it.
"""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_id_of, run_proj
from helpers.processes import alive, wait_for

SPEC = """\
name: escapes
entry_points:
  main:
    parameters:
      name: {type: string, default: run}
    command: "bash escape.sh {name} && echo done"
  hang:
    parameters:
      name: {type: string, default: run}
    command: "bash escape.sh {name} && sleep 300"
"""
# Four processes that outlive the script unless something ends them; their pids go to pids-NAME.
ESCAPE = """\
out="pids-$1"
sleep 300 & echo $! >> "$out.tmp"
( bash -c 'echo $$ >> "$0.tmp"; exec sleep 300' "$out" </dev/null >/dev/null 2>&1 & )
setsid bash -c 'echo $$ >> "$0.tmp"; exec sleep 300' "$out" </dev/null >/dev/null 2>&1 &
( setsid bash -c 'echo $$ >> "$0.tmp"; exec sleep 300' "$out" </dev/null >/dev/null 2>&1 & )
while [ "$(wc -l < "$out.tmp")" -lt 4 ]; do sleep 0.02; done
mv "$out.tmp" "$out"
"""
ESCAPERS = 4


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "escapes"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "escape.sh").write_text(ESCAPE)
    return folder


def escaped_pids(project: Path, name: str = "run", timeout: float = 60) -> list[int]:
    path = project / f"pids-{name}"
    text = wait_for(lambda: path.exists() and path.read_text(), timeout, what=f"{path.name} to be written")
    pids = [int(line) for line in text.split()]
    assert len(pids) == ESCAPERS
    return pids


def start_proj(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "runner", "run", ".", *args], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def listed_runs(project: Path) -> list[dict]:
    return json.loads(run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout)


def test_a_finished_run_leaves_nothing_running(project):
    done = run_proj("run", ".", cwd=project, check_exit=0)
    pids = escaped_pids(project, timeout=1)
    assert [pid for pid in pids if alive(pid)] == []  # already when proj has exited: no waiting
    record = json.loads(run_proj("runs", "show", run_id_of(done), "--format", "json", cwd=project).stdout)
    assert (record["status"], record["exit_code"]) == ("FINISHED", 0)
    assert "done" in done.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_is_killed_with_everything_it_started(project, signum):
    proj = start_proj(project, "-e", "hang")
    pids = escaped_pids(project)
    proj.send_signal(signum)
    _, err = proj.communicate(timeout=60)
    assert proj.returncode == 128 + signum, err
    assert [pid for pid in pids if alive(pid)] == []
    [record] = listed_runs(project)
    assert record["status"] == "KILLED" and record["end_time"] and "Traceback" not in err


def test_a_killed_proj_still_has_everything_ended_and_its_run_is_lost(project):
    proj = start_proj(project, "-e", "hang")
    pids = escaped_pids(project)
    proj.kill()
    proj.communicate(timeout=30)
    assert proj.returncode == -signal.SIGKILL
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, what="the supervisor to end the run's processes")
    assert [r["status"] for r in listed_runs(project)] == ["RUNNING"]  # reading records nothing
    run_proj("runs", "refresh", cwd=project, check_exit=0)
    [record] = listed_runs(project)
    assert record["status"] == "LOST"


def test_ctrl_c_on_a_parallel_sweep_ends_every_point_and_what_it_started(project):
    """-j 3: the points' commands are started from worker threads (never with preexec_fn)."""
    proj = start_proj(project, "-e", "hang", "--sweep", "name=a,b,c,d,e", "-j", "3")
    pids = [pid for name in "abc" for pid in escaped_pids(project, name)]
    proj.send_signal(signal.SIGINT)
    _, err = proj.communicate(timeout=60)
    assert proj.returncode == 130, err
    assert [pid for pid in pids if alive(pid)] == []
    assert sorted(r["status"] for r in listed_runs(project)) == ["KILLED"] * 3  # d and e never started
    assert not (project / "pids-d").exists() and not (project / "pids-e").exists()


def test_a_finished_parallel_sweep_leaves_nothing_running(project):
    run_proj("run", ".", "--sweep", "name=a,b,c", "-j", "3", cwd=project, check_exit=0)
    pids = [pid for name in "abc" for pid in escaped_pids(project, name, timeout=1)]
    assert [pid for pid in pids if alive(pid)] == []
    assert [r["status"] for r in listed_runs(project)] == ["FINISHED"] * 3


# --- rules of the code base ---------------------------------------------------------------------

def _calls_and_imports(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(modules imported, `x.y(...)` calls, keyword argument names) anywhere in a module."""
    tree = ast.parse(path.read_text())
    imported, calls, keywords = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                calls.add(f"{node.func.value.id}.{node.func.attr}")
            keywords |= {k.arg for k in node.keywords if k.arg}
    return imported, calls, keywords


def test_children_are_started_in_one_place_without_preexec_fn_or_forks_of_proj():
    modules = sorted((REPO_ROOT / "runner").rglob("*.py"))
    importing_subprocess, forking, preexec = [], [], []
    for path in modules:
        imported, calls, keywords = _calls_and_imports(path)
        name = path.relative_to(REPO_ROOT).as_posix()
        importing_subprocess += [name] if "subprocess" in imported else []
        forking += [name] if "os.fork" in calls else []
        preexec += [name] if "preexec_fn" in keywords else []
    assert importing_subprocess == ["runner/process.py"]
    # Only the supervisor forks: it runs single-threaded, in an interpreter of its own.
    assert forking == ["runner/supervision.py"]
    assert preexec == []
