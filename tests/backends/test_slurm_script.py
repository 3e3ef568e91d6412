"""The Slurm backend's parts that need no cluster: what Slurm's output means, the job script
(run here by bash exactly as a compute node would run it), and settings refused up front."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_proj
from helpers.exitcodes import USAGE
from runner.backends.base import Job, JobState
from runner.backends.slurm_script import SETUP_FAILED, render_script
from runner.backends.slurm_status import exit_code, parse_sacct, parse_scontrol
from runner.invocation import HostInvocation

# Real `scontrol show job -o` lines (Slurm 22.05), shortened: a pending array remainder, a
# running element, a finished plain job whose WorkDir holds text that looks like a field.
SCONTROL = """\
JobId=6 ArrayJobId=6 ArrayTaskId=1-3%1 ArrayTaskThrottle=1 JobName=a.sh JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) ExitCode=0:0 EndTime=Unknown WorkDir=/tmp/x
JobId=7 ArrayJobId=6 ArrayTaskId=0 ArrayTaskThrottle=1 JobName=a.sh JobState=RUNNING Reason=None ExitCode=0:0 EndTime=2027-01-01T00:00:00
JobId=12 JobName=proj-1 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 EndTime=2026-11-28T00:37:36 WorkDir=/tmp/ JobState=COMPLETED
"""


def test_scontrol_lines_become_a_status_per_job_and_array_element():
    statuses = parse_scontrol(SCONTROL)
    assert sorted(statuses) == ["12", "6_0", "6_1", "6_2", "6_3"]
    assert statuses["6_2"].state is JobState.PENDING and statuses["6_2"].reason == "JobArrayTaskLimit"
    assert statuses["6_0"].state is JobState.RUNNING and statuses["6_0"].exit_code is None
    assert statuses["6_0"].end_time is None  # a running job's EndTime is only its time limit
    failed = statuses["12"]
    assert (failed.state, failed.exit_code, failed.scheduler_state) == (JobState.FAILED, 3, "FAILED")
    assert failed.end_time is not None


@pytest.mark.parametrize("word, state", [("COMPLETED", JobState.SUCCEEDED), ("CANCELLED by 0", JobState.CANCELLED),
                                         ("TIMEOUT", JobState.FAILED), ("OUT_OF_MEMORY", JobState.FAILED),
                                         ("COMPLETING", JobState.RUNNING), ("REQUEUED", JobState.PENDING),
                                         ("SOMETHING_NEW", JobState.RUNNING)])
def test_sacct_states(word, state):
    assert parse_sacct(f"5|{word}|0:0|2026-11-28T00:14:02\n")["5"].state is state


def test_sacct_pending_array_ranges_are_expanded():
    assert sorted(parse_sacct("9_[2-4%2]|PENDING|0:0|Unknown\n")) == ["9_2", "9_3", "9_4"]


@pytest.mark.parametrize("text, code", [("0:0", 0), ("3:0", 3), ("0:15", 143), ("0:9", 137), ("", None)])
def test_exit_codes_read_as_a_shell_reports_them(text, code):
    assert exit_code(text) == code


def _job(tmp_path: Path, run_id: str, command: str, env: dict) -> Job:
    folder = tmp_path / f"run-{run_id}"
    folder.mkdir()
    invocation = HostInvocation(("bash", "-c", command), env, folder)
    return Job(run_id, invocation, tmp_path / f"{run_id}.log")


def _run_script(script: str, tmp_path: Path, **slurm: str) -> int:
    path = tmp_path / "job.sh"
    path.write_text(script)
    # Nothing but Slurm's variables: all the command gets comes from the script.
    return subprocess.run(["/bin/bash", str(path)], env=slurm, cwd="/").returncode


def test_the_script_runs_the_command_in_its_folder_with_its_environment(tmp_path):
    tricky = "it's $(touch pwned) `x` \"q\" \\ \n#SBATCH --partition=nope"
    env = {"PATH": os.environ["PATH"], "TRICKY": tricky, "SLURM_JOB_ID": "stale", "SHLVL": "9", "bad-name": "x"}
    job = _job(tmp_path, "a1", 'printf "%s|%s|%s|%s\\n" "$TRICKY" "$PWD" "$SLURM_JOB_ID" "${SHLVL}"; exit 4', env)
    script = render_script([job])

    assert _run_script(script, tmp_path, SLURM_JOB_ID="42") == 4
    assert job.log_path.read_text() == f"{tricky}|{job.invocation.cwd}|42|1\n"
    assert not list(tmp_path.rglob("pwned"))
    # sbatch reads directives only above the first command: no user text may get there.
    lines = script.splitlines()
    first_command = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    assert first_command < 4 and not any(line.startswith("#SBATCH") for line in lines[:first_command])
    assert "bad-name" not in script


def test_an_array_script_runs_the_element_slurm_names(tmp_path):
    jobs = [_job(tmp_path, f"r{i}", 'echo "point $POINT shared $SHARED"', {"POINT": str(i), "SHARED": "same"})
            for i in range(3)]
    script = render_script(jobs)
    assert script.count("export SHARED=same") == 1  # what every point shares is written once

    assert _run_script(script, tmp_path, SLURM_ARRAY_TASK_ID="2") == 0
    assert jobs[2].log_path.read_text() == "point 2 shared same\n"
    assert not jobs[0].log_path.exists() and not jobs[1].log_path.exists()
    assert _run_script(script, tmp_path, SLURM_ARRAY_TASK_ID="7") == SETUP_FAILED


def test_a_folder_the_node_cannot_see_fails_clearly(tmp_path):
    job = _job(tmp_path, "b1", "echo never", {"PATH": os.environ["PATH"]})
    job.invocation.cwd.rmdir()
    assert _run_script(render_script([job]), tmp_path) == SETUP_FAILED
    assert "must be on a filesystem this node sees" in job.log_path.read_text()


@pytest.mark.parametrize("config, message", [
    ('{"partion": "gpu"}', "did you mean 'partition'"),
    ('{"time": "5 hours"}', "use minutes"),
    ('{"cpus_per_task": 0}', "cpus_per_task"),
    ('{"mem": "lots"}', "a number with a unit"),
    ('{"extra_args": ["--output=/tmp/x"]}', "would change --output"),
    ('{"extra_args": ["--arr=0-3"]}', "would change --array"),
    ('{"extra_args": ["-o/tmp/x"]}', "would change -o"),
    ('{"extra_args": ["gpu"]}', "each item is one option"),
    ('["partition"]', "must be a mapping"),
    ("no-such-file.json", "no such file, and not inline JSON"),
    ('{"partition": ', "Invalid --backend-config"),
])
def test_bad_backend_config_is_refused_before_anything_runs(tmp_path, config, message):
    done = run_proj("run", str(tmp_path), "-b", "slurm", "--backend-config", config, cwd=tmp_path, check_exit=USAGE)
    assert message in done.stderr and "Traceback" not in done.stderr


def test_docker_projects_are_refused_before_anything_is_built(tmp_path):
    (tmp_path / "MLproject").write_text("name: d\ndocker_env:\n  image: no-such-image:1\n"
                                        "entry_points:\n  main:\n    command: echo hi\n")
    done = run_proj("run", ".", "-b", "slurm", cwd=tmp_path, check_exit=USAGE)
    assert "cannot run docker environments" in done.stderr and "Traceback" not in done.stderr
    assert run_proj("runs", "list", cwd=tmp_path, check_exit=0).stdout.strip() == "no runs"


def test_local_backend_cannot_detach(tmp_path):
    (tmp_path / "MLproject").write_text("name: p\nentry_points:\n  main:\n    command: echo hi\n")
    done = run_proj("run", ".", "--detach", cwd=tmp_path, check_exit=USAGE)
    assert "The local backend cannot run detached" in done.stderr
    assert run_proj("runs", "list", cwd=tmp_path, check_exit=0).stdout.strip() == "no runs"


def test_the_docs_describe_every_setting():
    schema = json.loads((REPO_ROOT / "schemas" / "slurm-backend-config.schema.json").read_text())
    docs = (REPO_ROOT / "docs" / "slurm.md").read_text()
    assert [key for key in schema["properties"] if f"`{key}`" not in docs] == []
