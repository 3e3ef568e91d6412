"""`proj ui` against runs that attack their own record, and against damaged stores, over HTTP.

The server must never serve a file outside a run, never answer 500 to an odd path, never leak a
descriptor per request, answer on the loopback address it was given, and never write to a store
it reads.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import run_id_of, run_proj
from helpers.exitcodes import SETUP
from helpers.figures import record_figure
from helpers.processes import wait_for
from runner.ui.app import create_app

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SECRET = "TOP-SECRET-CONTENT"
SPEC = """\
name: hostile-ui
entry_points:
  swap_outputs:
    parameters: {outside: path}
    command: 'echo kept > "$PROJ_OUTPUT_DIR/x.txt"; rm -rf "$PROJ_OUTPUT_DIR"; ln -s {outside} "$PROJ_OUTPUT_DIR"'
  swap_log:
    parameters: {outside: path}
    command: 'echo ran; cd "$PROJ_OUTPUT_DIR/.."; rm output.log; ln -s {outside}/secret.txt output.log'
  zero_metrics:
    command: 'echo kept > "$PROJ_OUTPUT_DIR/kept.txt"; ln -s /dev/zero "$PROJ_OUTPUT_DIR/metrics.jsonl"'
  fifo_metrics:
    command: 'echo ran; cd "$PROJ_OUTPUT_DIR"; mkfifo metrics.jsonl pipe; ln -s /dev/zero zero; echo ok > real.txt'
  folder_metrics:
    command: 'echo ran; mkdir "$PROJ_OUTPUT_DIR/metrics.jsonl"'
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("hostile-ui")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    project = base / "project"
    project.mkdir()
    (project / "MLproject").write_text(SPEC)
    runs = {}
    for entry in ("swap_outputs", "swap_log", "zero_metrics", "fifo_metrics", "folder_metrics"):
        extra = ["-P", f"outside={outside}"] if entry.startswith("swap") else []
        runs[entry] = run_id_of(run_proj("run", ".", "-e", entry, *extra, cwd=project, check_exit=0))
    # proj puts back a log the run swapped while it ran; a link put there afterwards (as a
    # detached job could) stays, and is what the UI must not follow.
    log = project / ".proj" / "runs" / runs["swap_log"] / "output.log"
    assert log.read_text() == "ran\n"
    log.unlink()
    log.symlink_to(outside / "secret.txt")
    return project / ".proj", runs


@pytest.fixture(scope="module")
def client(hostile):
    with TestClient(create_app(str(hostile[0])), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_a_run_whose_outputs_are_a_link_serves_nothing_outside(client, hostile):
    run_id = hostile[1]["swap_outputs"]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "secret.txt" not in page.text
    for path in ("secret.txt", "%2E%2E%2Foutside%2Fsecret.txt"):
        answer = client.get(f"/runs/{run_id}/artifacts/{path}")
        assert answer.status_code in (400, 404) and SECRET not in answer.text
    assert client.get(f"/api/runs/{run_id}").json()["artifacts"] == []


def test_a_run_whose_log_is_a_link_shows_why_and_not_the_target(client, hostile):
    run_id = hostile[1]["swap_log"]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and SECRET not in page.text
    assert "proj cannot show this log" in page.text
    for path in (f"/runs/{run_id}/files/output.log", f"/api/runs/{run_id}/log", f"/api/runs/{run_id}/log?offset=0"):
        answer = client.get(path)
        assert answer.status_code == 503 and SECRET not in answer.text, path
        assert "it is a symlink" in answer.text


def test_metrics_linked_to_dev_zero_are_not_read(client, hostile):
    run_id = hostile[1]["zero_metrics"]
    assert client.get(f"/runs/{run_id}").status_code == 200
    answer = client.get(f"/api/runs/{run_id}/metrics").json()
    assert answer["points"] == [] and answer["problems"] == ["metrics.jsonl is a symlink, not a regular file; not read"]


@pytest.mark.parametrize("path, status", [
    ("/runs/{run}/artifacts/", 404),
    ("/runs/{run}/artifacts/.", 404),
    ("/runs/{run}/artifacts/a%00b", 400),
    ("/runs/{run}/files/a%00b", 404),
    ("/runs/%00", 404),
    ("/api/runs/{run}/log?offset=%00", 400),
    ("/?experiment=%00&param=a%00=b", 200),
    ("/api/runs/{run}/metrics?key=%00&limit=10001", 400),
])
def test_odd_paths_are_answered_without_a_server_error(client, hostile, path, status):
    answer = client.get(path.format(run=hostile[1]["zero_metrics"]))
    assert answer.status_code == status, answer.text


def test_metrics_are_paged(ui_store):
    run_id = ui_store.runs["baseline"]
    with TestClient(create_app(str(ui_store.root)), base_url="http://127.0.0.1") as client:
        first = client.get(f"/api/runs/{run_id}/metrics?key=loss&limit=2").json()
        last = client.get(f"/api/runs/{run_id}/metrics?key=loss&offset=4&limit=2").json()
    assert [p["step"] for p in first["points"]] == [1, 2] and first["next_offset"] == 2
    assert [p["step"] for p in last["points"]] == [5] and last["next_offset"] is None


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_folder_paths_neither_fail_nor_leak_descriptors(ui_server, ui_store):
    run_id = ui_store.runs["baseline"]
    paths = [f"/runs/{run_id}/artifacts/", f"/runs/{run_id}/artifacts/plots", f"/runs/{run_id}/artifacts/a%00b"]
    statuses = []
    for _ in range(3):  # a warm-up round: the server opens its store once per worker thread
        statuses += [_status(ui_server.url + path) for path in paths]
    before = open_descriptors(ui_server.process.pid)
    for _ in range(100):
        statuses += [_status(ui_server.url + path) for path in paths]
    after = open_descriptors(ui_server.process.pid)
    assert set(statuses) == {400, 404}
    assert after <= before + 5, (before, after)
    record_figure("ui_folder_requests", {"requests": 300, "descriptors_before": before, "descriptors_after": after})


def _status(url: str) -> int:
    try:
        with DIRECT.open(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_another_loopback_address_is_served(ui_store, tmp_path):
    log = tmp_path / "ui.log"
    with log.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--host", "127.0.0.2", "--port", "0"],
                                  cwd=ui_store.project, env={**os.environ, **ui_store.env}, stdout=stderr,
                                  stderr=stderr)
    try:
        url = wait_for(lambda: re.search(r"http://127\.0\.0\.2:\d+", log.read_text()), timeout=30,
                       what="proj ui to announce its address").group(0)
        assert _status(url + "/") == 200
        request = urllib.request.Request(url + "/", headers={"Host": "attacker.example"})
        try:
            DIRECT.open(request, timeout=10)
            refused = 200
        except urllib.error.HTTPError as err:
            refused = err.code
        assert refused == 400  # still no answer for other host names (DNS rebinding)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=15) == 0


def test_an_empty_database_shows_no_runs_and_stays_empty(tmp_path):
    store = tmp_path / "store"
    (store / "runs").mkdir(parents=True)
    (store / "proj.db").write_bytes(b"")
    with TestClient(create_app(str(store)), base_url="http://127.0.0.1") as empty:
        assert "No runs recorded" in empty.get("/").text
        assert empty.get("/api/runs").json()["runs"] == []
        assert empty.get(f"/runs/{'0' * 32}").status_code == 404
    assert (store / "proj.db").read_bytes() == b"" and not list(store.glob("proj.db-*"))


def test_a_database_lost_beside_its_runs_is_explained(tmp_path):
    store = tmp_path / "store"
    (store / "runs" / ("a" * 32)).mkdir(parents=True)
    (store / "proj.db").write_bytes(b"")
    with TestClient(create_app(str(store)), base_url="http://127.0.0.1") as damaged:
        for path in ("/", "/api/runs"):
            answer = damaged.get(path)
            assert answer.status_code == 503 and "its database proj.db is missing or empty" in answer.text
    refused = run_proj("ui", "--tracking-uri", str(store), "--port", "0", cwd=tmp_path, timeout=30)
    assert refused.returncode == SETUP and "is missing or empty" in refused.stderr
    assert (store / "proj.db").read_bytes() == b""


def test_a_real_server_answers_special_files_at_once_and_stops_on_sigterm(hostile, tmp_path):
    """A metrics file that is a FIFO, a link to /dev/zero or a folder, a FIFO and a /dev/zero link
    among the artifacts: it used to hang or grow to gigabytes, and then ignore SIGTERM."""
    store, runs = hostile
    log = tmp_path / "ui.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--tracking-uri", str(store), "--port", "0"],
                                  stdout=output, stderr=output)
    try:
        url = wait_for(lambda: re.search(r"http://127\.0\.0\.1:\d+", log.read_text()), timeout=30,
                       what="proj ui to announce its address").group(0)
        special = [runs[name] for name in ("zero_metrics", "fifo_metrics", "folder_metrics")]
        paths = [f"/runs/{run}" for run in special] + [f"/api/runs/{run}/metrics" for run in special]
        paths.append("/compare?" + "&".join(f"run={run}" for run in special))
        assert {path: _status(url + path) for path in paths} == dict.fromkeys(paths, 200)
        fifo_run = runs["fifo_metrics"]
        assert _status(f"{url}/runs/{fifo_run}/artifacts/real.txt") == 200
        assert _status(f"{url}/runs/{fifo_run}/artifacts/pipe") == 404  # neither listed nor opened
        assert _status(f"{url}/runs/{fifo_run}/artifacts/zero") == 400
        with DIRECT.open(f"{url}/api/runs/{fifo_run}/metrics", timeout=10) as answer:
            assert answer.read().decode().count("metrics.jsonl is a FIFO, not a regular file; not read") == 1
        rss_kib = int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{server.pid}/status").read_text()).group(1))
        assert rss_kib < 200 * 1024, rss_kib  # nothing of /dev/zero was held
        record_figure("ui_special_files", {"requests": len(paths) + 4, "peak_rss_mib": rss_kib // 1024})
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == -signal.SIGTERM  # it stops (by the signal's default action)
