"""proj's scheduler paths through the CLI, on every machine: the FAKE scheduler of
tests/data/plugin-scheduler (`-b fake`, a plugin written for tests) runs jobs here in detached
workers whose state survives proj. Submitting, following attached, --detach, `proj runs
refresh/wait/cancel`, LOST and kept checkouts are exercised as with Slurm (tests/backends/test_slurm.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import TIMED_OUT, USAGE
from helpers.gitrepo import GitRepo
from helpers.processes import alive, wait_for, wait_for_file

SPEC = r"""
name: probe
entry_points:
  main:
    parameters:
      code: {type: int, default: 0}
      word: {type: string, default: hello}
    command: "echo word={word}; echo to-stderr >&2; exit {code}"
  step:
    command: "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; exit 3"
  hang:
    command: "sleep 300 & echo $$ $! > pids.txt; wait"
"""


@pytest.fixture
def probe(tmp_path, plugins_env) -> Path:
    project = tmp_path / "probe"
    project.mkdir()
    (project / "MLproject").write_text(SPEC)
    return project


def proj(*args: str, cwd: Path, env: dict[str, str], check_exit: int | None = 0) -> subprocess.CompletedProcess:
    return run_proj(*args, cwd=cwd, env=env, check_exit=check_exit)


def show(run_id: str, cwd: Path, env: dict[str, str]) -> dict:
    return json.loads(proj("runs", "show", run_id, "--format", "json", cwd=cwd, env=env).stdout)


def job_state(isolated_home: Path, job_id: str) -> dict:
    path = isolated_home / "fake-scheduler" / "jobs" / job_id / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def wait_until_job_ended(isolated_home: Path, job_id: str) -> dict:
    return wait_for(lambda: job_state(isolated_home, job_id).get("state") in ("COMPLETED", "FAILED", "CANCELLED")
                    and job_state(isolated_home, job_id), timeout=60, what=f"fake job {job_id} to end")


def detach(project: Path, env: dict[str, str], *args: str) -> str:
    return proj("run", ".", "-b", "fake", "--detach", *args, cwd=project, env=env).stdout.strip()


def test_attached_run_follows_the_job_and_exits_with_its_code(probe, plugins_env):
    process = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-b", "fake", "-e", "step"], cwd=probe,
                               env={**os.environ, **plugins_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: (probe / ".proj").exists() and list((probe / ".proj" / "runs").glob("*/output.log"))
             and b"first" in next((probe / ".proj" / "runs").glob("*/output.log")).read_bytes(),
             what="the job's first line")
    (probe / "go").touch()
    out, err = process.communicate(timeout=60)

    assert process.returncode == 3, err
    assert out == b"first\nsecond\n"
    record = show(run_id_of(err.decode()), probe, plugins_env)
    assert (record["status"], record["exit_code"], record["backend"]) == ("FAILED", 3, "fake")
    assert record["job"]["state"] == "FAILED" and record["job"]["detached"] is False


def test_a_detached_run_is_settled_by_refresh_and_never_by_reading(probe, plugins_env, isolated_home):
    run_id = detach(probe, plugins_env, "-P", "code=4")
    job_id = show(run_id, probe, plugins_env)["job"]["id"]
    wait_until_job_ended(isolated_home, job_id)

    assert show(run_id, probe, plugins_env)["status"] == "RUNNING"  # the job ended; no one has asked
    assert proj("runs", "list", "--status", "failed", cwd=probe, env=plugins_env).stdout.strip() == "no runs"

    refreshed = proj("runs", "refresh", cwd=probe, env=plugins_env)

    assert refreshed.stdout == f"run {run_id} FAILED (exit code 4); fake job {job_id}: FAILED\n"
    assert "refreshed 1 run: 1 changed, 0 still RUNNING" in refreshed.stderr
    record = show(run_id, probe, plugins_env)
    assert (record["status"], record["exit_code"], record["job"]["state"]) == ("FAILED", 4, "FAILED")
    assert record["end_time"] >= record["start_time"]
    assert proj("runs", "logs", run_id, cwd=probe, env=plugins_env).stdout == "word=hello\nto-stderr\n"
    again = proj("runs", "refresh", cwd=probe, env=plugins_env)
    assert again.stdout == "" and "refreshed 0 runs: 0 changed" in again.stderr


def test_wait_follows_the_log_and_exits_as_proj_run_would(probe, plugins_env):
    run_id = detach(probe, plugins_env, "-P", "word=waited")
    waited = proj("runs", "wait", run_id[:10], "--follow", cwd=probe, env=plugins_env)
    assert "word=waited" in waited.stdout and f"run {run_id} FINISHED (exit code 0)" in waited.stderr
    failing = detach(probe, plugins_env, "-P", "code=7")
    proj("runs", "wait", failing, cwd=probe, env=plugins_env, check_exit=7)
    assert show(failing, probe, plugins_env)["status"] == "FAILED"


def test_cancel_stops_every_process_of_the_job_and_records_killed(probe, plugins_env):
    run_id = detach(probe, plugins_env, "-e", "hang")
    shell, sleeper = map(int, wait_for_file(probe / "pids.txt", timeout=60).split())
    waited = proj("runs", "wait", run_id, "--timeout", "0.5", cwd=probe, env=plugins_env, check_exit=TIMED_OUT)
    assert "is still RUNNING after 0.5 s" in waited.stderr

    cancelled = proj("runs", "cancel", run_id, cwd=probe, env=plugins_env)

    assert f"run {run_id} KILLED (exit code 143)" in cancelled.stderr and "CANCELLED" in cancelled.stderr
    wait_for(lambda: not alive(shell) and not alive(sleeper), timeout=10, what="the job's processes to end")
    record = show(run_id, probe, plugins_env)
    assert (record["status"], record["job"]["state"]) == ("KILLED", "CANCELLED")
    assert "scheduler.log" in record["attachments"]
    assert proj("runs", "cancel", run_id, cwd=probe, env=plugins_env).stderr.startswith(
        f"proj: run {run_id} has already ended")


def test_ctrl_c_on_an_attached_run_cancels_its_job(probe, plugins_env):
    process = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-b", "fake", "-e", "hang"], cwd=probe,
                               env={**os.environ, **plugins_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shell, sleeper = map(int, wait_for_file(probe / "pids.txt", timeout=60).split())
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    wait_for(lambda: not alive(shell) and not alive(sleeper), timeout=10, what="the job's processes to end")
    record = show(run_id_of(err.decode()), probe, plugins_env)
    assert (record["status"], record["job"]["state"]) == ("KILLED", "CANCELLED")


def test_a_pending_job_shows_its_state_and_a_forgotten_job_makes_the_run_lost(probe, plugins_env, isolated_home):
    queued = detach(probe, plugins_env, "--backend-config", '{"start_delay": 60}')
    proj("runs", "refresh", cwd=probe, env=plugins_env)
    assert f"{queued[:12]}" in (listed := proj("runs", "list", cwd=probe, env=plugins_env).stdout)
    assert "RUNNING/PENDING" in listed
    proj("runs", "cancel", queued, cwd=probe, env=plugins_env)  # never started: no exit code
    assert (show(queued, probe, plugins_env)["status"], show(queued, probe, plugins_env)["exit_code"]) == ("KILLED",
                                                                                                           None)
    run_id = detach(probe, plugins_env)
    job_id = show(run_id, probe, plugins_env)["job"]["id"]
    wait_until_job_ended(isolated_home, job_id)
    # What Slurm's MinJobAge does to an old job, done at once (proj_fake_scheduler.forget).
    shutil.rmtree(isolated_home / "fake-scheduler" / "jobs" / job_id)

    refreshed = proj("runs", "refresh", run_id, cwd=probe, env=plugins_env)

    assert f"run {run_id} LOST; fake job {job_id}: UNKNOWN" in refreshed.stdout  # no "(exit code None)"
    record = show(run_id, probe, plugins_env)
    assert record["status"] == "LOST" and record["end_time"] is not None
    assert record["job"]["reason"] == "the scheduler no longer knows the job"
    proj("runs", "wait", run_id, cwd=probe, env=plugins_env, check_exit=1)


def test_a_git_checkout_is_kept_for_a_detached_job_until_it_is_settled(tmp_path, plugins_env, isolated_home):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": SPEC})
    run_id = proj("run", repo.url, "-b", "fake", "--detach", "--backend-config", '{"start_delay": 2}',
                  cwd=tmp_path, env=plugins_env).stdout.strip()
    record = show(run_id, tmp_path, plugins_env)
    checkout = Path(record["job"]["checkout"])
    assert checkout.is_dir() and record["source"]["path"] == str(checkout)
    # Another run of the repository reaps the checkouts of dead procs: not this one, a job needs it.
    proj("run", repo.url, "-P", "word=meanwhile", cwd=tmp_path, env=plugins_env)
    assert checkout.is_dir()

    proj("runs", "wait", run_id, cwd=tmp_path, env=plugins_env)

    assert not checkout.exists()  # given back once the job was seen to end
    assert proj("runs", "logs", run_id, cwd=tmp_path, env=plugins_env).stdout == "word=hello\nto-stderr\n"


def test_a_detached_sweep_is_one_job_per_point_settled_by_refresh(probe, plugins_env, isolated_home):
    sweep_id = proj("run", ".", "-b", "fake", "--sweep", "code=0,2", "--detach", cwd=probe, env=plugins_env
                    ).stdout.strip()
    listed = json.loads(proj("runs", "list", "--sweep", sweep_id, "--format", "json", cwd=probe, env=plugins_env
                             ).stdout)
    for run in listed:
        wait_until_job_ended(isolated_home, run["job"]["id"])
    proj("runs", "refresh", cwd=probe, env=plugins_env)
    runs = json.loads(proj("runs", "list", "--sweep", sweep_id, "--format", "json", cwd=probe, env=plugins_env
                           ).stdout)
    assert sorted((r["parameters"][0]["value"], r["status"], r["exit_code"]) for r in runs) == [
        (0, "FINISHED", 0), (2, "FAILED", 2)]
    assert len({r["job"]["id"] for r in runs}) == 2


def test_a_plugin_store_gets_settlement_and_lost_for_free(probe, plugins_env, tmp_path, isolated_home):
    folder = tmp_path / "jsondir-runs"
    uri = f"jsondir://{folder}"
    run_id = detach(probe, plugins_env, "--tracking-uri", uri, "-P", "code=5")
    job_id = json.loads((folder / f"{run_id}.json").read_text())["job"]["id"]
    # An attached run whose proj is killed outright, recorded in the same plugin store.
    launcher = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang", "--tracking-uri", uri],
                                cwd=probe, env={**os.environ, **plugins_env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    pids = [int(p) for p in wait_for_file(probe / "pids.txt").split()]
    launcher.kill()
    launcher.wait()
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10, what="the orphaned command to die")
    wait_until_job_ended(isolated_home, job_id)

    proj("runs", "refresh", "--tracking-uri", uri, cwd=probe, env=plugins_env)

    saved = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    orphan = next(r for key, r in saved.items() if key != run_id)
    assert (saved[run_id]["status"], saved[run_id]["exit_code"], saved[run_id]["job"]["state"]) == ("FAILED", 5,
                                                                                                    "FAILED")
    assert orphan["status"] == "LOST" and orphan["end_time"] is not None


def test_bad_settings_are_refused_before_anything_runs(probe, plugins_env):
    done = proj("run", ".", "-b", "fake", "--backend-config", '{"start_delay": -1}', cwd=probe, env=plugins_env,
                check_exit=USAGE)
    assert "start_delay must be a number of seconds, 0 or more, got -1" in done.stderr
    assert proj("runs", "list", cwd=probe, env=plugins_env).stdout.strip() == "no runs"
