"""The MLflow store against a real `mlflow server` (3.17.2, SQLite backend, proxied artifacts).

Each server here belongs to the tests: one for the session, and a second one that the outage
test stops and restarts on the same port and database.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import DATA, require, run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.gitrepo import GitRepo
from helpers.mlflow_server import (
    MLFLOW_VERSION,
    MlflowServer,
    free_port,
    mlflow_installed,
    mlflow_python,
)
from helpers.processes import wait_for_file

PROJECTS = DATA / "mlflow-store"
# Small retry budget: an unreachable server must fail (or be spooled) in about a second here.
FAST_RETRIES = {"PROJ_MLFLOW_RETRIES": "2", "PROJ_MLFLOW_BACKOFF": "0.1", "PROJ_MLFLOW_TIMEOUT": "5"}


@pytest.fixture(scope="session")
def server_python() -> str:
    python = mlflow_python()
    ok, version = mlflow_installed(python)
    require("mlflow", ok, version)
    require("mlflow", version == MLFLOW_VERSION, f"{python} has mlflow {version}, the tests expect {MLFLOW_VERSION}")
    return python


@pytest.fixture(scope="session")
def mlflow_server(server_python, tmp_path_factory):
    server = MlflowServer(server_python, tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def skinny_python(server_python, tmp_path_factory) -> str:
    """An interpreter where the project's code can `import mlflow`: mlflow-skinny from the CI
    wheelhouse (offline, under a second), else the server's own full mlflow."""
    wheelhouse = os.environ.get("PROJ_TEST_MLFLOW_WHEELHOUSE")
    if not wheelhouse or not Path(wheelhouse).is_dir():
        return server_python
    from uv import find_uv_bin

    venv = tmp_path_factory.mktemp("skinny") / "venv"
    uv = find_uv_bin()
    subprocess.run([uv, "venv", "--quiet", "--python", server_python, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--offline", "--no-index", "--find-links", wheelhouse,
                    "--python", str(venv / "bin" / "python"), f"mlflow-skinny=={MLFLOW_VERSION}"], check=True)
    return str(venv / "bin" / "python")


def _experiment() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def _proj_run(server: MlflowServer | str, project: Path, *args: str, experiment: str, check_exit: int = 0,
              env: dict | None = None) -> subprocess.CompletedProcess:
    url = server if isinstance(server, str) else server.url
    return run_proj("run", str(project), "--env-manager", "local", "--tracking-uri", url,
                    "--experiment-name", experiment, *args, env={**FAST_RETRIES, **(env or {})},
                    check_exit=check_exit)


@pytest.mark.mlflow
@pytest.mark.git
def test_run_is_recorded_with_mlflows_project_tags_and_projs_own(mlflow_server, git_available, tmp_path):
    repo = GitRepo.create(tmp_path / "project", {"MLproject": (PROJECTS / "basic" / "MLproject").read_text()})
    repo.git("remote", "add", "origin", "https://git.example.com/team/tracked.git")
    (repo.path / "notes.txt").write_text("uncommitted\n")
    repo.git("add", "notes.txt")  # a staged change: the run is dirty and keeps the diff
    experiment = _experiment()

    done = _proj_run(mlflow_server, repo.path, "-P", "name=ada", "-P", "extra=7", "--run-name", "first",
                     experiment=experiment)
    run_id = run_id_of(done)
    run = mlflow_server.run(run_id)

    assert done.stdout == "hello ada alpha=0.1 --extra 7\n"
    assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"] >= run["info"]["start_time"]
    assert run["params"] == {"alpha": "0.1", "name": "ada", "extra": "7"}
    tags = run["tags"]
    assert {k: tags[k] for k in ("mlflow.source.type", "mlflow.project.entryPoint", "mlflow.project.env",
                                 "mlflow.project.backend", "mlflow.runName", "mlflow.source.git.commit",
                                 "mlflow.source.git.repoURL", "mlflow.source.name")} == {
        "mlflow.source.type": "PROJECT", "mlflow.project.entryPoint": "main", "mlflow.project.env": "local",
        "mlflow.project.backend": "local", "mlflow.runName": "first", "mlflow.source.git.commit": repo.head(),
        "mlflow.source.git.repoURL": "https://git.example.com/team/tracked.git",
        "mlflow.source.name": "https://git.example.com/team/tracked.git"}
    assert tags["mlflow.user"]
    assert tags["proj.dirty"] == "true" and len(tags["proj.diff_hash"]) == 64
    assert tags["proj.command"] == "echo hello ada alpha=0.1 --extra 7"
    assert tags["proj.exit_code"] == "0" and tags["proj.version"]
    assert mlflow_server.artifact(run_id, "proj/output.log") == b"hello ada alpha=0.1 --extra 7\n"
    assert b"notes.txt" in mlflow_server.artifact(run_id, "proj/diff.patch")
    assert tags["proj.attachments"] == "diff.patch"


@pytest.mark.mlflow
def test_runs_list_show_and_logs_read_the_server(mlflow_server, tmp_path):
    experiment = _experiment()
    first = run_id_of(_proj_run(mlflow_server, PROJECTS / "basic", "-P", "name=ada", experiment=experiment))
    failed = run_id_of(_proj_run(mlflow_server, PROJECTS / "basic", "-e", "fail", experiment=experiment,
                               check_exit=3))
    uri = ["--tracking-uri", mlflow_server.url]

    listed = json.loads(run_proj("runs", "list", "-x", experiment, "--format", "json", *uri, check_exit=0).stdout)
    assert [(r["run_id"], r["status"], r["exit_code"]) for r in listed] == \
        [(failed, "FAILED", 3), (first, "FINISHED", 0)]
    only_ada = json.loads(run_proj("runs", "list", "-x", experiment, "-P", "name=ada", "--format", "json", *uri,
                                   check_exit=0).stdout)
    assert [r["run_id"] for r in only_ada] == [first]
    assert run_proj("runs", "list", "-x", experiment, "-s", "failed", *uri, check_exit=0).stdout.count("\n") == 2

    shown = json.loads(run_proj("runs", "show", first[:10], "--format", "json", *uri, check_exit=0).stdout)
    assert shown["experiment"] == experiment and shown["entry_point"] == "main"
    assert {p["name"]: (p["type"], p["given"], p["value"]) for p in shown["parameters"]} == {
        "alpha": ("float", None, 0.1), "name": ("string", "ada", "ada")}
    assert shown["source"]["path"] == str(PROJECTS / "basic")
    assert run_proj("runs", "logs", failed, *uri, check_exit=0).stdout == "about to fail\n"
    missing = run_proj("runs", "show", "0" * 32, *uri, check_exit=USAGE)
    assert f"No run '{'0' * 32}' on {mlflow_server.url}" in missing.stderr


@pytest.mark.mlflow
def test_the_output_folder_becomes_the_runs_artifacts_and_metrics(mlflow_server, tmp_path, isolated_home):
    experiment = _experiment()
    done = _proj_run(mlflow_server, PROJECTS / "basic", "-e", "outputs", experiment=experiment)
    run_id = run_id_of(done)

    history = mlflow_server.call("metrics/get-history", run_id=run_id, metric_key="loss")["metrics"]
    assert [(m["value"], m["step"]) for m in history] == [(0.5, 1), (0.25, 2)]
    assert mlflow_server.artifact(run_id, "model/weights.txt") == b"weights\n"
    assert "MLflow does not accept the metric name 'bad!name'" in done.stderr
    assert not (isolated_home / "outputs" / run_id).exists()  # uploaded, so not kept twice

    uri = ["--tracking-uri", mlflow_server.url]
    shown = json.loads(run_proj("runs", "show", run_id, "--format", "json", *uri, check_exit=0).stdout)
    assert shown["metrics"]["loss"] == {"last": 0.25, "min": 0.25, "max": 0.5, "count": 2, "last_step": 2}
    assert [a["path"] for a in shown["artifacts"]] == ["metrics.jsonl", "model/weights.txt"]
    listed = run_proj("runs", "list", "-x", experiment, "--metric", "loss", *uri, check_exit=0)
    assert "LOSS" in listed.stdout and "0.25" in listed.stdout
    run_proj("runs", "artifacts", run_id, "model", "-o", str(tmp_path / "copy"), *uri, check_exit=0)
    assert (tmp_path / "copy" / "weights.txt").read_text() == "weights\n"


@pytest.mark.mlflow
def test_files_stay_local_when_the_server_does_not_serve_the_runs_artifacts(mlflow_server, tmp_path, isolated_home):
    experiment = _experiment()
    # An experiment whose artifacts go to a location the client must write itself (a path here,
    # a bucket in real life): the server's artifact proxy cannot take them.
    mlflow_server.call("experiments/create",
                       {"name": experiment, "artifact_location": (tmp_path / "elsewhere").as_uri()})
    run_id = run_id_of(_proj_run(mlflow_server, PROJECTS / "basic", "-P", "name=local", experiment=experiment))
    kept = Path(mlflow_server.run(run_id)["tags"]["proj.log"])
    assert kept.is_relative_to(isolated_home) and kept.read_text() == "hello local alpha=0.1\n"
    uri = ["--tracking-uri", mlflow_server.url]
    assert run_proj("runs", "logs", run_id, *uri, check_exit=0).stdout == "hello local alpha=0.1\n"
    shown = json.loads(run_proj("runs", "show", run_id, "--format", "json", *uri, check_exit=0).stdout)
    assert shown["log"] == str(kept)


@pytest.mark.mlflow
def test_parameters_are_sent_in_batches_within_mlflows_limits(mlflow_server):
    experiment = _experiment()
    many = [arg for i in range(130) for arg in ("-P", f"p{i:03d}={i}")]
    long_value = "v" * 7000
    run_id = run_id_of(_proj_run(mlflow_server, PROJECTS / "basic", "-e", "quiet", *many, "-P", f"long={long_value}",
                               experiment=experiment))
    params = mlflow_server.run(run_id)["params"]
    assert len(params) == 131
    assert params["p129"] == "129"
    assert params["long"] == long_value[:6000]  # MLflow's limit for a parameter value


@pytest.mark.mlflow
def test_project_code_logs_into_the_same_run(mlflow_server, skinny_python):
    experiment = _experiment()
    done = _proj_run(mlflow_server, PROJECTS / "logs-metric", "-P", f"python={skinny_python}", experiment=experiment)
    run_id = run_id_of(done)
    run = mlflow_server.run(run_id)
    assert f"continuing run {run_id} (launcher said {run_id})" in done.stdout
    assert run["metrics"] == {"loss": 0.25}
    assert run["params"]["epochs"] == "3"
    assert run["info"]["status"] == "FINISHED"
    assert len(mlflow_server.runs_in(experiment)) == 1  # no second run was created


@pytest.mark.mlflow
def test_a_status_set_by_the_project_itself_is_kept(mlflow_server, skinny_python):
    experiment = _experiment()
    done = _proj_run(mlflow_server, PROJECTS / "logs-metric", "-P", f"python={skinny_python}",
                     "-P", "end_status=KILLED", experiment=experiment)
    run_id = run_id_of(done)
    assert mlflow_server.run(run_id)["info"]["status"] == "KILLED"  # proj's FINISHED did not overwrite it
    assert f"run {run_id} KILLED (exit code 0)" in done.stderr


@pytest.mark.mlflow
def test_runs_that_create_one_new_experiment_at_once_share_it(mlflow_server):
    experiment = _experiment()
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda i: _proj_run(mlflow_server, PROJECTS / "basic", "-P", f"name=n{i}",
                                                 experiment=experiment), range(4)))
    assert sorted(run["info"]["run_id"] for run in mlflow_server.runs_in(experiment)) == sorted(map(run_id_of, done))
    search = mlflow_server.call("experiments/search", {"max_results": 1000, "filter": f"name = '{experiment}'"})
    assert len(search["experiments"]) == 1


@pytest.mark.mlflow
def test_experiments_by_id_and_from_mlflows_variables(mlflow_server, tmp_path):
    experiment = _experiment()
    first = run_id_of(_proj_run(mlflow_server, PROJECTS / "basic", "-P", "name=a", experiment=experiment))
    experiment_id = mlflow_server.run(first)["info"]["experiment_id"]
    uri = ["--env-manager", "local", "--tracking-uri", mlflow_server.url]
    by_id = run_proj("run", str(PROJECTS / "basic"), "-P", "name=b", "--experiment-id", experiment_id, *uri,
                     env=FAST_RETRIES, check_exit=0)
    by_variable = run_proj("run", str(PROJECTS / "basic"), "-P", "name=c", *uri,
                           env={**FAST_RETRIES, "MLFLOW_EXPERIMENT_NAME": experiment}, check_exit=0)
    for done in (by_id, by_variable):
        assert mlflow_server.run(run_id_of(done))["info"]["experiment_id"] == experiment_id
    unknown = run_proj("run", str(PROJECTS / "basic"), "-P", "name=d", "--experiment-id", "987654321", *uri,
                       env=FAST_RETRIES, check_exit=USAGE)
    assert f"No experiment with id '987654321' on {mlflow_server.url}" in unknown.stderr
    assert len(mlflow_server.runs_in(experiment)) == 3


@pytest.mark.mlflow
def test_a_failed_run_continued_on_the_server_keeps_all_its_output(mlflow_server):
    experiment = _experiment()
    failed = _proj_run(mlflow_server, PROJECTS / "basic", "-e", "fail", experiment=experiment, check_exit=3)
    run_id = run_id_of(failed)
    uri = ["--env-manager", "local", "--tracking-uri", mlflow_server.url]
    changed = run_proj("run", str(PROJECTS / "basic"), "--run-id", run_id, "-P", "name=ada", "-P", "alpha=0.5",
                       *uri, env=FAST_RETRIES, check_exit=0)  # the failed entry point had no parameters
    assert f"proj: run {run_id} continued in experiment {experiment!r}" in changed.stderr

    run = mlflow_server.run(run_id)
    assert (run["info"]["status"], run["tags"]["proj.exit_code"]) == ("FINISHED", "0")
    assert run["params"] == {"alpha": "0.5", "name": "ada"}
    assert run["tags"]["proj.command"] == "echo hello ada alpha=0.5"
    assert mlflow_server.artifact(run_id, "proj/output.log") == b"about to fail\nhello ada alpha=0.5\n"
    refused = run_proj("run", str(PROJECTS / "basic"), "--run-id", run_id, "-P", "name=bob", *uri,
                       env=FAST_RETRIES, check_exit=USAGE)
    # a default that differs from the value logged conflicts too: the command would not match the run
    assert "already has other values for these parameters: alpha: '0.5' → '0.1'; name: 'ada' → 'bob'" \
        in refused.stderr
    assert mlflow_server.run(run_id)["info"]["status"] == "FINISHED"
    assert len(mlflow_server.runs_in(experiment)) == 1


@pytest.mark.mlflow
def test_a_run_whose_launcher_died_is_listed_as_lost(mlflow_server):
    experiment = _experiment()
    experiment_id = mlflow_server.call("experiments/create", {"name": experiment})["experiment_id"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    tags = [{"key": "proj.launcher", "value": f"{dead.stdout.strip()}:1"},
            {"key": "proj.host", "value": socket.gethostname()}]
    run_id = mlflow_server.call("runs/create", {"experiment_id": experiment_id, "start_time": int(time.time() * 1000),
                                                "tags": tags})["run"]["info"]["run_id"]
    running = run_proj("runs", "list", "-x", experiment, "--tracking-uri", mlflow_server.url, check_exit=0)
    assert "RUNNING (launcher gone: proj runs refresh)" in running.stdout  # shown, not written
    assert mlflow_server.call("runs/get", run_id=run_id)["run"]["info"]["status"] == "RUNNING"

    run_proj("runs", "refresh", run_id, "--tracking-uri", mlflow_server.url, check_exit=0)

    listed = run_proj("runs", "list", "-x", experiment, "-s", "lost", "--tracking-uri", mlflow_server.url,
                      check_exit=0)
    assert run_id[:12] in listed.stdout and "LOST" in listed.stdout
    info = mlflow_server.call("runs/get", run_id=run_id)["run"]["info"]
    assert info["status"] == "FAILED" and info["end_time"]  # MLflow's nearest word for it


def test_an_unreachable_server_stops_the_run_before_anything_runs(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: touch ran\n")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    done = _proj_run(url, project, experiment="x", check_exit=SETUP, env={"MLFLOW_TRACKING_TOKEN": "s3cret-token"})
    assert f"no answer from the MLflow tracking server at {url}" in done.stderr
    assert "connection refused" in done.stderr and "Traceback" not in done.stderr
    assert "s3cret-token" not in done.stderr + done.stdout
    assert not (project / "ran").exists()
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("status, body, expected", [
    (404, b"<html>Not Found</html>", "hint: is this an MLflow tracking server?"),
    (401, b'{"error_code": "UNAUTHENTICATED", "message": "credentials required"}',
     "refused access (HTTP 401)\n  hint: set MLFLOW_TRACKING_TOKEN"),
])
def test_a_server_proj_cannot_use_is_reported_before_anything_runs(tmp_path, status, body, expected):
    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: touch ran\n")
    try:
        done = _proj_run(f"http://127.0.0.1:{server.server_address[1]}", project, experiment="x", check_exit=SETUP)
    finally:
        server.shutdown()
        server.server_close()
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (project / "ran").exists()


def test_credentials_in_the_tracking_uri_are_refused_without_showing_them(tmp_path):
    done = run_proj("runs", "list", "--tracking-uri", "http://alice:s3cret@127.0.0.1:9/", check_exit=USAGE)
    assert "contains credentials" in done.stderr and "MLFLOW_TRACKING_TOKEN" in done.stderr
    assert "s3cret" not in done.stderr


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_server_that_stops_mid_run_gets_everything_from_sync(server_python, tmp_path, isolated_home):
    server = MlflowServer(server_python, tmp_path / "server")
    server.start()
    try:
        _outage_and_sync(server, tmp_path / "signals", isolated_home)
    finally:
        server.stop()


def _outage_and_sync(server: MlflowServer, signals: Path, home: Path) -> None:
    signals.mkdir()
    experiment = _experiment()
    proj = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(PROJECTS / "basic"), "-e", "wait", "-P", f"folder={signals}",
         "--env-manager", "local", "--tracking-uri", server.url, "--experiment-name", experiment],
        env={**os.environ, **FAST_RETRIES}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(signals / "started", timeout=60)
        server.stop()
    finally:
        (signals / "go").touch()  # whatever happened, let the run end
        stdout, stderr = proj.communicate(timeout=120)

    assert proj.returncode == 0, stderr  # the run itself is unharmed
    assert stdout == "before the outage\nafter the outage\n"
    assert "proj runs sync" in stderr
    run_id = next(line.split()[2] for line in stderr.splitlines() if " started in experiment " in line)
    spooled = sorted((home / "spool").glob("*.json"))
    assert spooled and all(run_id in p.name for p in spooled)

    still_down = run_proj("runs", "sync", env=FAST_RETRIES, check_exit=SETUP)
    assert "could not be sent" in still_down.stderr and sorted((home / "spool").glob("*.json")) == spooled

    server.start()
    assert server.run(run_id)["info"]["status"] == "RUNNING"  # nothing arrived while it was down
    synced = run_proj("runs", "sync", check_exit=0)
    assert f"of run {run_id}" in synced.stdout
    run = server.run(run_id)
    assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"]
    assert run["tags"]["proj.exit_code"] == "0"
    assert server.artifact(run_id, "proj/output.log") == b"before the outage\nafter the outage\n"
    assert server.artifact(run_id, "result.txt") == b"result\n"
    assert run["metrics"] == {"accuracy": 0.9}
    assert not list((home / "spool").glob("*.json"))
    assert run_proj("runs", "sync", check_exit=0).stdout == "nothing to send\n"
