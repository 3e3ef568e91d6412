"""`proj run` end to end with the local environment and the default local store."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.gitrepo import GitRepo
from helpers.processes import alive, wait_for, wait_for_file

EXAMPLE = REPO_ROOT / "example-projects" / "linear-regression"

PROBE_SPEC = """\
name: probe
entry_points:
  main:
    parameters:
      word: {type: string, default: hello}
      code: {type: int, default: 0}
    command: "python3 probe.py {word} && exit {code}"
  hang:
    command: "bash hang.sh"
"""
PROBE_PY = """\
import json, os, sys
print("out:", sys.argv[1], flush=True)
print("err: to stderr", file=sys.stderr, flush=True)
keys = ("PROJ_RUN_ID", "PROJ_TRACKING_URI", "PROJ_EXPERIMENT", "PYTHONUNBUFFERED")
print(json.dumps({k: os.environ.get(k) for k in keys}))
"""
# Starts a grandchild, reports both pids, and waits: what an interrupted run must clean up.
HANG_SH = """\
sleep 300 &
echo "$$ $!" > pids.txt
wait
"""


@pytest.fixture
def probe(tmp_path) -> Path:
    project = tmp_path / "probe"
    project.mkdir()
    (project / "MLproject").write_text(PROBE_SPEC)
    (project / "probe.py").write_text(PROBE_PY)
    (project / "hang.sh").write_text(HANG_SH)
    return project


def show(run_id: str, cwd: Path, *extra: str) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", *extra, cwd=cwd, check_exit=0).stdout)


def test_example_project_runs_and_is_recorded(tmp_path):
    result = run_proj("run", str(EXAMPLE), "-P", "alpha=0.05", "-P", "epochs=50", cwd=tmp_path, check_exit=0)
    assert "test rmse:" in result.stdout
    run_id = run_id_of(result)
    assert f"recorded in {tmp_path / '.proj'}" in result.stderr
    record = show(run_id, tmp_path)
    assert record["status"] == "FINISHED" and record["exit_code"] == 0
    assert record["entry_point"] == "main" and record["experiment"] == "Default"
    params = {p["name"]: p for p in record["parameters"]}
    assert params["alpha"]["given"] == "0.05" and params["alpha"]["value"] == 0.05
    assert params["epochs"]["value"] == 50 and params["seed"]["given"] is None
    assert params["data"]["value"] == str(EXAMPLE / "data" / "housing.csv")
    assert record["command"].startswith(f"python3 train.py --data {EXAMPLE / 'data' / 'housing.csv'} --alpha 0.05")
    assert record["source"]["kind"] == "local" and record["source"]["path"] == str(EXAMPLE)
    assert record["proj_version"] and record["python_version"] and record["host"] and record["user"]
    assert record["environment"]["kind"] == "local"
    assert record["end_time"] >= record["start_time"]
    log = run_proj("runs", "logs", run_id[:8], cwd=tmp_path, check_exit=0).stdout
    assert "test rmse:" in log


def test_output_streams_live_and_the_log_keeps_stdout_and_stderr_in_order(probe):
    result = run_proj("run", ".", "-P", "word=hi", cwd=probe, check_exit=0)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["out: hi", "err: to stderr"]
    run_id = run_id_of(result)
    log = run_proj("runs", "logs", run_id, cwd=probe, check_exit=0).stdout
    assert log == result.stdout
    env = json.loads(lines[2])
    assert env == {"PROJ_RUN_ID": run_id, "PROJ_TRACKING_URI": str(probe / ".proj"),
                   "PROJ_EXPERIMENT": "Default", "PYTHONUNBUFFERED": "1"}


def test_exit_code_of_the_entry_point_propagates(probe):
    result = run_proj("run", ".", "-P", "code=7", cwd=probe)
    assert result.returncode == 7
    record = show(run_id_of(result), probe)
    assert (record["status"], record["exit_code"]) == ("FAILED", 7)


@pytest.mark.parametrize("args, message", [
    (["-P", "code=seven"], "Parameter 'code' expects an int (a whole number), got 'seven'"),
    (["-P", "bad key=1"], "Invalid parameter name 'bad key'"),
    (["-P", "word"], "Invalid parameter 'word': expected NAME=VALUE"),
    (["-P", "word=a", "-P", "word=b"], "Repeated parameter: 'word'"),
    (["-e", "nothing"], "Could not find 'nothing' among entry points ['hang', 'main']"),
    (["--env-manager", "podman"], "Unknown environment manager 'podman'"),
])
def test_bad_parameters_exit_125_and_nothing_is_recorded(probe, args, message):
    result = run_proj("run", ".", *args, cwd=probe)
    assert result.returncode == USAGE, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (probe / ".proj").exists()


@pytest.mark.parametrize("uri", ["ext::sh -c touch% pwned", "{repo}#../..", "-oProxyCommand=touch pwned:x"])
def test_dangerous_sources_exit_125(tmp_path, uri):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": PROBE_SPEC, "probe.py": PROBE_PY})
    result = run_proj("run", "--", uri.format(repo=repo.url), cwd=tmp_path)
    assert result.returncode == USAGE, result.stderr
    assert "Refusing" in result.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / ".proj").exists()


@pytest.mark.parametrize("value", ["$(touch pwned)", "a; touch pwned", "`touch pwned`"])
def test_hostile_parameter_values_never_execute(probe, value):
    result = run_proj("run", ".", "-P", f"word={value}", cwd=probe, check_exit=0)
    assert f"out: {value}" in result.stdout
    assert not (probe / "pwned").exists()


def test_dry_run_shows_the_plan_and_runs_nothing(probe):
    result = run_proj("run", ".", "-P", "word=two words", "-P", "extra=1", "--dry-run", cwd=probe, check_exit=0)
    assert "python3 probe.py 'two words' && exit 0 --extra 1" in result.stdout
    assert "word = 'two words' (string, given)" in result.stdout
    assert "out:" not in result.stdout and not (probe / ".proj").exists()


def test_git_url_with_version_records_commit_and_version(tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": PROBE_SPEC, "probe.py": PROBE_PY})
    first = repo.head()
    repo.git("tag", "v1")
    repo.commit({"probe.py": PROBE_PY.replace("out:", "OUT:")}, "shout")
    result = run_proj("run", repo.url, "-v", "v1", "-P", "word=x", cwd=tmp_path, check_exit=0)
    assert "out: x" in result.stdout
    source = show(run_id_of(result), tmp_path)["source"]
    assert (source["kind"], source["commit"], source["version"], source["dirty"]) == ("git", first, "v1", False)
    assert source["uri"] == repo.url
    assert not Path(source["path"]).exists()  # the per-run checkout is gone


def test_dirty_local_repository_keeps_its_diff_with_the_run(tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": PROBE_SPEC, "probe.py": PROBE_PY})
    repo.write({"probe.py": PROBE_PY.replace("out:", "changed:")})
    result = run_proj("run", ".", cwd=repo.path, check_exit=0)
    record = show(run_id_of(result), repo.path)
    assert record["source"]["dirty"] is True and record["source"]["commit"] == repo.head()
    assert "diff.patch" in record["attachments"]
    patch = (repo.path / ".proj" / "runs" / record["run_id"] / "diff.patch").read_text()
    assert "+print(\"changed:\"" in patch
    # the store inside the project does not make the next run dirty
    repo.git("checkout", "--", "probe.py")
    clean = show(run_id_of(run_proj("run", ".", cwd=repo.path, check_exit=0)), repo.path)
    assert clean["source"]["dirty"] is False


def test_script_fallback_entry_point_appends_parameters(tmp_path):
    (tmp_path / "train.py").write_text("import sys; print('argv', sys.argv[1:])\n")
    result = run_proj("run", ".", "-e", "train.py", "-P", "alpha=0.1", cwd=tmp_path, check_exit=0)
    assert "argv ['--alpha', '0.1']" in result.stdout


def test_no_mlproject_and_no_such_script(tmp_path):
    result = run_proj("run", ".", "-e", "train.py", cwd=tmp_path)
    assert result.returncode == USAGE and "does not exist" in result.stderr


def test_missing_folder_exits_126(tmp_path):
    result = run_proj("run", str(tmp_path / "absent"), cwd=tmp_path)
    assert result.returncode == SETUP and "no such folder" in result.stderr


def _start(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang", *args], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_interrupted_run_is_killed_entirely_and_recorded(probe, signum, exit_code):
    proj = _start(probe)
    shell, grandchild = map(int, wait_for_file(probe / "pids.txt").split())
    proj.send_signal(signum)
    _out, err = proj.communicate(timeout=30)
    assert proj.returncode == exit_code, err
    assert not alive(shell) and not alive(grandchild)
    record = show(run_id_of(subprocess.CompletedProcess([], 0, "", err)), probe)
    assert record["status"] == "KILLED" and record["end_time"] is not None


def test_command_ignoring_the_signal_is_killed_after_the_grace_period(probe):
    (probe / "hang.sh").write_text("trap '' INT TERM\nsleep 300 &\necho \"$$ $!\" > pids.txt\nwait\n")
    proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang"], cwd=probe,
                            env={**os.environ, "PROJ_STOP_GRACE_SECONDS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shell, grandchild = map(int, wait_for_file(probe / "pids.txt").split())
    started = time.monotonic()
    proj.send_signal(signal.SIGINT)
    proj.communicate(timeout=30)
    assert proj.returncode == 130 and time.monotonic() - started < 10
    assert not alive(shell) and not alive(grandchild)


def test_launcher_killed_with_sigkill_takes_the_command_with_it_and_the_run_is_lost(probe):
    proj = _start(probe)
    shell, grandchild = map(int, wait_for_file(probe / "pids.txt").split())
    proj.kill()
    proj.wait()
    wait_for(lambda: not alive(shell) and not alive(grandchild), timeout=10, what="orphans to die")
    shown = run_proj("runs", "list", cwd=probe, check_exit=0).stdout  # reading tells, but writes nothing
    assert "RUNNING (launcher gone: proj runs refresh)" in shown
    assert run_proj("runs", "list", "--status", "lost", cwd=probe, check_exit=0).stdout.strip() == "no runs"

    refreshed = run_proj("runs", "refresh", cwd=probe, check_exit=0)

    runs = json.loads(run_proj("runs", "list", "--format", "json", cwd=probe, check_exit=0).stdout)
    assert [r["status"] for r in runs] == ["LOST"]
    assert f"run {runs[0]['run_id']} LOST" in refreshed.stdout
    lost = run_proj("runs", "list", "--status", "lost", "--format", "json", cwd=probe, check_exit=0).stdout
    assert len(json.loads(lost)) == 1


def test_runs_list_filters_and_show_by_prefix(probe):
    run_proj("run", ".", "-P", "word=a", "--experiment-name", "exp1", cwd=probe, check_exit=0)
    run_proj("run", ".", "-P", "word=b", "--experiment-name", "exp2", cwd=probe, check_exit=0)
    failed = run_proj("run", ".", "-P", "word=b", "-P", "code=1", "--experiment-name", "exp2", cwd=probe)
    assert failed.returncode == 1

    def listed(*args: str) -> list[dict]:
        output = run_proj("runs", "list", "--format", "json", *args, cwd=probe, check_exit=0).stdout
        return json.loads(output)

    assert len(listed()) == 3
    assert [r["parameters"][0]["given"] for r in listed("--experiment", "exp2")] == ["b", "b"]
    assert [r["experiment"] for r in listed("-P", "word=a")] == ["exp1"]
    assert [r["exit_code"] for r in listed("--status", "failed")] == [1]
    newest_first = [r["start_time"] for r in listed()]
    assert newest_first == sorted(newest_first, reverse=True)
    table = run_proj("runs", "list", cwd=probe, check_exit=0).stdout
    assert table.splitlines()[0].split()[:3] == ["RUN", "STARTED", "STATUS"] and "FAILED" in table
    run_id = run_id_of(failed)
    text = run_proj("runs", "show", run_id[:6], cwd=probe, check_exit=0).stdout
    assert f"run          {run_id}" in text and "FAILED (exit code 1)" in text


def test_show_and_logs_without_a_run_id_take_the_latest_run(probe):
    nothing = run_proj("runs", "show", cwd=probe, check_exit=USAGE)
    assert "No runs recorded in" in nothing.stderr and "Traceback" not in nothing.stderr
    assert not (probe / ".proj").exists()  # looking created no store
    run_proj("run", ".", "-P", "word=first", cwd=probe, check_exit=0)
    latest = run_id_of(run_proj("run", ".", "-P", "word=second", cwd=probe, check_exit=0))
    shown = run_proj("runs", "show", "--format", "json", cwd=probe, check_exit=0)
    assert json.loads(shown.stdout)["run_id"] == latest
    assert f"the latest run: {latest}" in shown.stderr  # said on stderr: stdout stays the record alone
    assert run_proj("runs", "logs", cwd=probe, check_exit=0).stdout.startswith("out: second")
    text = run_proj("runs", "show", cwd=probe, check_exit=0).stdout
    assert "parameters\n  word = 'second' (" in text and "given 'second'" in text
    assert "logged with MLflow" not in text  # the probe never uses MLflow: no empty heading


def test_unknown_and_malformed_run_ids(probe):
    run_proj("run", ".", cwd=probe, check_exit=0)
    for ref, message in (("ffffffff", "No run 'ffffffff'"), ("../etc", "not a run id"), ("%", "not a run id")):
        result = run_proj("runs", "show", ref, cwd=probe)
        assert result.returncode == USAGE and message in result.stderr


def test_tracking_uri_from_the_environment(probe, tmp_path):
    store = tmp_path / "elsewhere"
    run_proj("run", ".", cwd=probe, env={"PROJ_TRACKING_URI": str(store)}, check_exit=0)
    assert (store / "proj.db").exists() and not (probe / ".proj").exists()
    listed = run_proj("runs", "list", "--tracking-uri", f"file://{store}", "--format", "json", cwd=probe)
    assert len(json.loads(listed.stdout)) == 1


def test_store_files_are_private(probe):
    result = run_proj("run", ".", cwd=probe, check_exit=0)
    store = probe / ".proj"
    run_dir = store / "runs" / run_id_of(result)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((store / "proj.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((run_dir / "output.log").stat().st_mode) == 0o600


def test_store_with_a_newer_schema_is_refused_before_running(probe):
    import sqlite3

    run_proj("run", ".", cwd=probe, check_exit=0)
    with sqlite3.connect(probe / ".proj" / "proj.db") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    result = run_proj("run", ".", "-P", "word=never", cwd=probe)
    assert result.returncode == SETUP and "schema version 99" in result.stderr
    assert "out: never" not in result.stdout


def test_store_that_cannot_be_created_is_refused_before_running(probe):
    (probe / "not-a-folder").write_text("a file where the store should go")
    result = run_proj("run", ".", "-P", "word=never", "--tracking-uri", "not-a-folder/store", cwd=probe)
    assert result.returncode == SETUP and "Cannot create a tracking store" in result.stderr
    assert "out: never" not in result.stdout


def test_many_concurrent_runs_share_one_store(probe):
    def one(i: int) -> int:
        return run_proj("run", ".", "-P", f"word=w{i}", cwd=probe).returncode

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(one, range(20)))
    assert codes == [0] * 20
    runs = json.loads(run_proj("runs", "list", "-n", "100", "--format", "json", cwd=probe, check_exit=0).stdout)
    assert sorted(r["parameters"][0]["given"] for r in runs) == sorted(f"w{i}" for i in range(20))
    assert {r["status"] for r in runs} == {"FINISHED"}
    for r in runs:
        log = run_proj("runs", "logs", r["run_id"], cwd=probe, check_exit=0).stdout
        assert f"out: {r['parameters'][0]['given']}" in log
