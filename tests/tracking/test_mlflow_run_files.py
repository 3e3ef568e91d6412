"""On an MLflow server, what a run leaves behind is uploaded without following it out of the run:
a log replaced by a link, links among its outputs, or an output folder that is itself a link."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.figures import measured_proj, record_figure
from helpers.mlflow_server import MlflowServer
from helpers.processes import processes_of_run

pytestmark = [pytest.mark.mlflow]

SECRET = "TOP-SECRET-CONTENT"
SPEC = """\
name: hostile-mlflow
entry_points:
  swap_log:
    parameters: {outside: path}
    command: |
      echo ran
      echo "{{\\"key\\": \\"kept\\", \\"value\\": 1}}" > "$PROJ_OUTPUT_DIR/metrics.jsonl"
      ln -s {outside}/secret.txt "$PROJ_OUTPUT_DIR/leak.txt"
      echo real > "$PROJ_OUTPUT_DIR/real.txt"
      log="$PROJ_HOME/mlflow/runs/$PROJ_RUN_ID/output.log"
      rm "$log" && ln -s {outside}/secret.txt "$log"
  swap_outputs:
    parameters: {outside: path}
    command: 'rm -rf "$PROJ_OUTPUT_DIR"; ln -s {outside} "$PROJ_OUTPUT_DIR"'
  loud:
    parameters: {outside: path, megabytes: int}
    command: "head -c {megabytes}000000 /dev/zero | tr '\\\\0' 'y' | fold -w 99"
  more:
    parameters: {outside: path}
    command: "echo; echo more"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> MlflowServer:
    return MlflowServer.provisioned(tmp_path_factory.mktemp("server-reads"))


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder, outside


def run_on(server: MlflowServer, project: Path, outside: Path, entry: str, *extra: str) -> tuple[str, str]:
    done = run_proj("run", str(project), "-e", entry, "-P", f"outside={outside}", *extra, "--tracking-uri", server.url,
                    "--experiment-name", f"hostile-{uuid.uuid4().hex[:8]}", check_exit=0)
    run_id = run_id_of(done)
    assert server.run(run_id)["info"]["status"] == "FINISHED" and processes_of_run(run_id) == []
    return run_id, done.stderr


def test_a_log_replaced_by_a_link_is_put_back_and_the_link_not_uploaded(server, project):
    run_id, stderr = run_on(server, *project, "swap_log")
    assert "the run replaced its log" in stderr and "with a symbolic link; proj put back the log it kept" in stderr
    shown = json.loads(run_proj("runs", "show", run_id, "--format", "json", "--tracking-uri", server.url,
                                check_exit=0).stdout)
    assert [a["path"] for a in shown["artifacts"]] == ["metrics.jsonl", "real.txt"]  # not the link
    assert shown["metrics"]["kept"]["last"] == 1.0
    assert server.artifact(run_id, "real.txt") == b"real\n"
    logs = run_proj("runs", "logs", run_id, "--tracking-uri", server.url)
    assert SECRET not in logs.stdout and "Traceback" not in logs.stderr
    assert server.artifact(run_id, "proj/output.log") == b"ran\n" and "ran" in logs.stdout


def test_an_output_folder_replaced_by_a_link_uploads_nothing_from_it(server, project):
    run_id, _ = run_on(server, *project, "swap_outputs")
    listing = run_proj("runs", "artifacts", run_id, "--tracking-uri", server.url, check_exit=0)
    assert listing.stdout.strip() == "no artifacts" and SECRET not in listing.stdout


def test_runs_logs_streams_a_large_log_from_the_server(server, project, tmp_path):
    run_id, _ = run_on(server, *project, "loud", "-P", "megabytes=100")
    measured = measured_proj("runs", "logs", run_id, "--tracking-uri", server.url, cwd=tmp_path)
    assert measured["code"] == 0 and "Traceback" not in measured["stderr"], measured
    assert measured["peak_mib"] < 60, measured  # reading the 101 MB whole took 126 MiB
    record_figure("mlflow_runs_logs_100mb", {"peak_rss_mib": round(measured["peak_mib"]),
                                             "seconds": round(measured["seconds"], 1)})
    shown = subprocess.run(f"{sys.executable} -m runner runs logs {run_id} --tracking-uri {server.url} | sha256sum",
                           shell=True, capture_output=True, text=True, timeout=300)
    written = ("y" * 99 + "\n") * 1_010_101 + "y"  # 100 MB of y, a newline after every 99
    assert shown.stdout.split()[0] == hashlib.sha256(written.encode()).hexdigest(), shown.stderr
    assert list((Path(os.environ["PROJ_HOME"]) / "mlflow").glob("download-*")) == []  # the copy is gone
    head = subprocess.run(f"{sys.executable} -m runner runs logs {run_id} --tracking-uri {server.url} | head -c 5",
                          shell=True, capture_output=True, text=True, timeout=300)
    assert head.stdout == "yyyyy" and "Traceback" not in head.stderr
    folder, outside = project
    continued = measured_proj("run", str(folder), "-e", "more", "-P", f"outside={outside}", "--run-id", run_id,
                              "--tracking-uri", server.url, cwd=tmp_path)  # the earlier log is copied, streamed
    assert continued["code"] == 0 and f"run {run_id} continued" in continued["stderr"], continued
    assert continued["peak_mib"] < 60, continued  # it took 126 MiB when the earlier log was read whole
    assert server.run(run_id)["info"]["status"] == "FINISHED" and processes_of_run(run_id) == []
    written += "\nmore\n"
    assert hashlib.sha256(server.artifact(run_id, "proj/output.log")).hexdigest() == \
        hashlib.sha256(written.encode()).hexdigest()
    record_figure("mlflow_continue_after_100mb_log", {"peak_rss_mib": round(continued["peak_mib"])})
