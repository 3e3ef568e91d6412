"""`proj ui` as a command: where it listens, what it refuses, and what it says when the extra is missing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

from conftest import run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.processes import wait_for
from ui.conftest import UiServer

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy from the environment


def test_listed_in_help():
    assert "ui" in run_proj("--help", check_exit=0).stdout


def test_other_hosts_need_an_explicit_flag(tmp_path):
    result = run_proj("ui", "--host", "0.0.0.0", "--tracking-uri", str(tmp_path), check_exit=USAGE)
    assert "Refusing to serve on 0.0.0.0: proj ui has no authentication" in result.stderr
    assert "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_another_host_with_the_flag_serves_with_a_warning(tmp_path):
    log = tmp_path / "ui.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--host", "0.0.0.0", "--allow-remote",
                                   "--port", "0", "--tracking-uri", str(tmp_path / "store")],
                                  stdout=output, stderr=output, env=os.environ.copy())
    try:
        port = wait_for(lambda: re.search(r"http://0\.0\.0\.0:(\d+)/", log.read_text()), what="the address").group(1)
        assert "warning: serving on 0.0.0.0 without authentication" in log.read_text()
        assert re.search(r"http://0\.0\.0\.0:\d+/ \(read-only; Ctrl-C to stop\)", log.read_text())
        # Any host name is accepted here: the user chose to serve other machines.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/runs", headers={"Host": "example.org"})
        with DIRECT.open(request, timeout=10) as answer:
            assert answer.status == 200
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=15) == 0


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_proj("ui", "--port", str(port), "--tracking-uri", str(tmp_path), check_exit=USAGE)
    assert f"Cannot listen on 127.0.0.1 port {port}: Address already in use" in result.stderr
    assert "--port" in result.stderr


def test_an_mlflow_server_is_not_a_local_store():
    result = run_proj("ui", "--tracking-uri", "http://127.0.0.1:5055", check_exit=USAGE)
    assert "proj ui shows a local store; http://127.0.0.1:5055 is an MLflow server" in result.stderr


def test_without_the_ui_extra_the_error_names_it(tmp_path):
    # The packages of the extra made unimportable, as in an installation without it.
    script = ("import sys; sys.modules['uvicorn'] = None; sys.argv = ['proj', 'ui']; "
              "from runner.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == SETUP
    assert "proj ui needs the ui extra, which is not installed (missing: uvicorn)" in result.stderr
    assert "pip install 'proj-runner[ui]'" in result.stderr


def test_serves_until_ctrl_c_and_then_exits_0(ui_store, tmp_path):
    server = UiServer(ui_store, tmp_path / "ui.log")
    try:
        with DIRECT.open(server.url + "/", timeout=10) as answer:
            assert answer.status == 200 and b"<h1>Runs</h1>" in answer.read()
        announced = (f"showing the runs of {ui_store.root} at {server.url}/ "
                     "(tags, names and deletions can be changed; Ctrl-C to stop)")
        assert announced in server.log.read_text()
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log.read_text()
