"""The Slurm backend against the real single-node cluster (scripts/slurm-up.sh), through the CLI.

Every test submits real jobs with sbatch and reads their fate back from scontrol. PROJ_HOME and
the tracking store live in the test's temporary folder, which the one compute node (this
machine) sees, as a shared filesystem would make them visible on a real cluster.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DATA, require, run_id_of, run_proj
from helpers.exitcodes import TIMED_OUT
from helpers.gitrepo import GitRepo
from helpers.processes import alive, wait_for, wait_for_file
from helpers.slurm import cluster_answers

pytestmark = pytest.mark.slurm

PROBE_SPEC = r"""
name: probe
entry_points:
  main:
    parameters:
      word: {type: string, default: hello}
      code: {type: int, default: 0}
    command: "printf 'word=[%s] job=%s\\n' {word} \"$SLURM_JOB_ID\"; echo to-stderr >&2; exit {code}"
  slow:
    parameters:
      seconds: {type: float, default: 2}
    command: "echo begun; sleep {seconds}; echo done"
  step:
    command: "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; exit 3"
  hang:
    command: "sleep 300 & echo $$ $! > pids.txt; wait"
"""


@pytest.fixture(scope="module")
def cluster() -> None:
    require("slurm", cluster_answers(), "sbatch is missing or the cluster does not answer `sinfo` "
                                        "(start it with scripts/slurm-up.sh)")


@pytest.fixture
def probe(tmp_path, cluster) -> Path:
    project = tmp_path / "probe"
    project.mkdir()
    (project / "MLproject").write_text(PROBE_SPEC)
    return project


def show(run_id: str, cwd: Path) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=cwd, check_exit=0).stdout)


def sweep_runs(sweep_id: str, cwd: Path) -> list[dict]:
    listed = run_proj("runs", "list", "--sweep", sweep_id, "--format", "json", cwd=cwd, check_exit=0)
    return json.loads(listed.stdout)


def scontrol(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True,
                          check=True).stdout


def start_proj(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_line(stream, timeout: float) -> bytes:
    """The next line the process writes, or a failure after `timeout` seconds."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output within {timeout} s") from None


def test_attached_run_streams_output_as_written_and_exits_with_the_jobs_code(probe):
    proj = start_proj("run", ".", "-b", "slurm", "-e", "step", cwd=probe)
    # "second" comes only after the test creates `go`: "first" arriving now proves it streams.
    assert read_line(proj.stdout, timeout=60) == b"first\n"
    (probe / "go").touch()
    out, err = proj.communicate(timeout=60)
    assert proj.returncode == 3, err
    assert out == b"second\n"
    record = show(run_id_of(err.decode()), probe)
    assert (record["status"], record["exit_code"], record["backend"]) == ("FAILED", 3, "slurm")
    assert record["job"]["id"].isdigit() and record["job"]["state"] == "FAILED"
    assert "JobState=FAILED" in scontrol(record["job"]["id"]) and "ExitCode=3:0" in scontrol(record["job"]["id"])
    assert Path(record["log"]).read_text() == "first\nsecond\n"


def test_parameters_reach_the_job_unchanged_and_are_never_run_as_shell(probe):
    word = "a  b; $(touch pwned) `touch pwned2` 'q' \"d\" \\ %j"
    done = run_proj("run", ".", "-b", "slurm", "-P", f"word={word}", cwd=probe, check_exit=0)
    job_id = show(run_id_of(done.stderr), probe)["job"]["id"]
    assert done.stdout == f"word=[{word}] job={job_id}\nto-stderr\n"  # one stream, as locally
    assert not (probe / "pwned").exists() and not (probe / "pwned2").exists()


def test_detached_run_outlives_proj_and_is_waited_for(cluster, tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": PROBE_SPEC})
    settings = tmp_path / "slurm.yaml"
    settings.write_text("partition: debug\ntime: 5\ncpus_per_task: 1\nmem: 100M\n")
    started = time.monotonic()
    done = run_proj("run", repo.url, "-b", "slurm", "-e", "slow", "-P", "seconds=3", "--detach",
                    "--backend-config", str(settings), cwd=tmp_path, check_exit=0)
    assert time.monotonic() - started < 15
    run_id = done.stdout.strip()
    record = show(run_id, tmp_path)  # the launcher has exited: the scheduler, not its pid, decides
    assert record["status"] == "RUNNING" and record["job"]["detached"] is True
    checkout = Path(record["job"]["checkout"])
    assert checkout.is_dir() and record["source"]["path"] == str(checkout)
    assert "TimeLimit=00:05:00" in scontrol(record["job"]["id"]) and "Partition=debug" in scontrol(record["job"]["id"])
    # Another run of the same repository reaps checkouts of dead procs; not this one, still in use.
    run_proj("run", repo.url, "-P", "word=meanwhile", cwd=tmp_path, check_exit=0)
    assert checkout.is_dir()

    waited = run_proj("runs", "wait", run_id[:10], cwd=tmp_path, check_exit=0)

    assert f"run {run_id} FINISHED (exit code 0)" in waited.stderr and "COMPLETED" in waited.stderr
    record = show(run_id, tmp_path)
    assert (record["status"], record["exit_code"], record["job"]["state"]) == ("FINISHED", 0, "COMPLETED")
    assert run_proj("runs", "logs", run_id, cwd=tmp_path, check_exit=0).stdout == "begun\ndone\n"
    assert not checkout.exists()  # removed once the job was seen finished


def test_waiting_for_a_failed_detached_run_exits_with_its_code(probe):
    run_id = run_proj("run", ".", "-b", "slurm", "-P", "code=7", "--detach", cwd=probe, check_exit=0).stdout.strip()
    waited = run_proj("runs", "wait", run_id, "--follow", cwd=probe, check_exit=7)
    assert "word=[hello]" in waited.stdout and "to-stderr" in waited.stdout
    assert show(run_id, probe)["status"] == "FAILED"


def test_cancelled_job_is_killed_with_no_process_left(probe):
    run_id = run_proj("run", ".", "-b", "slurm", "-e", "hang", "--detach", cwd=probe, check_exit=0).stdout.strip()
    shell, sleeper = map(int, wait_for_file(probe / "pids.txt", timeout=60).split())
    assert alive(shell) and alive(sleeper)
    waited = run_proj("runs", "wait", run_id, "--timeout", "0.5", cwd=probe, check_exit=TIMED_OUT)
    assert "is still RUNNING after 0.5 s" in waited.stderr

    cancelled = run_proj("runs", "cancel", run_id, cwd=probe, check_exit=0)

    assert f"run {run_id} KILLED" in cancelled.stderr and "CANCELLED" in cancelled.stderr
    wait_for(lambda: not alive(shell) and not alive(sleeper), timeout=10, what="the job's processes to end")
    record = show(run_id, probe)
    assert (record["status"], record["job"]["state"]) == ("KILLED", "CANCELLED")
    assert "CANCELLED" in scontrol(record["job"]["id"])
    assert "scheduler.log" in record["attachments"]  # slurmstepd's "*** JOB n CANCELLED ***"


def test_ctrl_c_on_an_attached_run_cancels_the_job(probe):
    proj = start_proj("run", ".", "-b", "slurm", "-e", "hang", cwd=probe)
    shell, sleeper = map(int, wait_for_file(probe / "pids.txt", timeout=60).split())
    proj.send_signal(signal.SIGINT)
    _out, err = proj.communicate(timeout=60)
    assert proj.returncode == 130, err
    wait_for(lambda: not alive(shell) and not alive(sleeper), timeout=10, what="the job's processes to end")
    record = show(run_id_of(err.decode()), probe)
    assert (record["status"], record["job"]["state"]) == ("KILLED", "CANCELLED")


def test_a_job_the_scheduler_has_forgotten_is_lost(probe):
    from runner.tracking.base import JobRecord
    from runner.tracking.local import LocalStore

    run_id = run_proj("run", ".", "-b", "slurm", "-e", "slow", "--detach", cwd=probe, check_exit=0).stdout.strip()
    # What MinJobAge does to an old job, done at once: Slurm has never heard of job 99999999.
    LocalStore(probe / ".proj").set_job(run_id, JobRecord("99999999", "RUNNING", detached=True))
    assert show(run_id, probe)["status"] == "RUNNING"  # reading asks no one and writes nothing

    refreshed = run_proj("runs", "refresh", cwd=probe, check_exit=0)

    assert f"run {run_id} LOST" in refreshed.stdout
    record = show(run_id, probe)
    assert record["status"] == "LOST" and record["end_time"] is not None
    assert record["job"]["reason"] == "the scheduler no longer knows the job"
    assert run_proj("runs", "wait", run_id, cwd=probe).returncode == 1


def test_sweep_of_four_points_is_one_job_array_with_four_runs(probe):
    done = run_proj("run", ".", "-b", "slurm", "--sweep", "word=x,y", "--sweep", "code=0,5",
                    "--max-parallel", "2", cwd=probe, check_exit=1)  # two points exit 5

    sweep_id = done.stderr.split("proj runs list --sweep ")[-1].split()[0]
    runs = sorted(sweep_runs(sweep_id, probe), key=lambda r: r["job"]["id"])
    array = {r["job"]["id"].split("_")[0] for r in runs}
    assert len(runs) == 4 and len(array) == 1
    assert [r["job"]["id"].split("_")[1] for r in runs] == ["0", "1", "2", "3"]
    assert "ArrayTaskThrottle=2" in scontrol(runs[0]["job"]["id"])
    points = [{p["name"]: p["value"] for p in r["parameters"]} for r in runs]
    assert points == [{"word": "x", "code": 0}, {"word": "x", "code": 5}, {"word": "y", "code": 0},
                      {"word": "y", "code": 5}]
    assert [(r["status"], r["exit_code"]) for r in runs] == [("FINISHED", 0), ("FAILED", 5)] * 2
    assert {r["sweep_id"] for r in runs} == {sweep_id}
    for run in runs:
        log = run_proj("runs", "logs", run["run_id"], cwd=probe, check_exit=0).stdout
        assert log.startswith(f"word=[{run['parameters'][0]['value']}] job=")


def test_detached_sweep_returns_the_sweep_id(probe):
    done = run_proj("run", ".", "-b", "slurm", "--sweep", "code=0,1", "--detach", cwd=probe, check_exit=0)
    sweep_id = done.stdout.strip()
    runs = sweep_runs(sweep_id, probe)
    assert len(runs) == 2 and all(r["job"]["detached"] for r in runs)
    for run in runs:
        run_proj("runs", "wait", run["run_id"], cwd=probe, check_exit=run["parameters"][1]["value"])


@pytest.mark.uv
def test_virtualenv_project_runs_inside_the_job(cluster, wheelhouse, tmp_path, isolated_home):
    project = shutil.copytree(DATA / "python-env-greet", tmp_path / "greet")

    done = run_proj("run", str(project), "-b", "slurm", "-P", "name=cluster", cwd=tmp_path, check_exit=0)

    lines = done.stdout.splitlines()
    assert lines[0] == "hello cluster from tinydep 1.0"
    prefix = Path(next(line.split(" ", 1)[1] for line in lines if line.startswith("prefix ")))
    assert prefix.is_relative_to(isolated_home / "envs")  # built on the submitting host, under PROJ_HOME
    record = show(run_id_of(done.stderr), tmp_path)
    assert record["environment"]["kind"] == "virtualenv" and record["job"]["state"] == "COMPLETED"
    assert f"JobId={record['job']['id']}" in scontrol(record["job"]["id"])


def test_the_scheduler_alone_runs_a_job_attached(cluster, tmp_path):
    """`run_submitted`: the Scheduler interface without proj's store (what a plugin author calls)."""
    import io

    from runner.backends import Job, get_scheduler
    from runner.backends.follow import run_submitted
    from runner.invocation import HostInvocation

    invocation = HostInvocation(("bash", "-c", "echo from-the-job; exit 2"), {"PATH": os.environ["PATH"]}, tmp_path)
    terminal = io.BytesIO()
    result = run_submitted(get_scheduler("slurm"), Job("0" * 32, invocation, tmp_path / "out.log"), terminal=terminal)
    assert (result.exit_code, result.interrupted_by) == (2, None)
    assert terminal.getvalue() == (tmp_path / "out.log").read_bytes() == b"from-the-job\n"


def test_a_detached_archive_run_keeps_its_unpacked_folder_until_the_job_ends(cluster, tmp_path):
    import zipfile

    archive = tmp_path / "probe.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("MLproject", PROBE_SPEC)
    done = run_proj("run", str(archive), "-b", "slurm", "-e", "slow", "-P", "seconds=2", "--detach",
                    cwd=tmp_path, check_exit=0)
    record = show(done.stdout.strip(), tmp_path)
    kept = Path(record["job"]["checkout"])
    assert kept.is_dir() and kept.name == "probe" and record["source"]["kind"] == "archive"

    run_proj("runs", "wait", record["run_id"], cwd=tmp_path, check_exit=0)

    assert run_proj("runs", "logs", record["run_id"], cwd=tmp_path, check_exit=0).stdout == "begun\ndone\n"
    assert not kept.parent.exists()  # removed once the job was seen finished
