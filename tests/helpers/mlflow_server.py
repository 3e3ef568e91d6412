"""A real `mlflow server` owned by a test: its own port, SQLite database and artifact folder.

The interpreter is the one with mlflow installed (PROJ_TEST_MLFLOW_PYTHON, default the CI venv).
Tests read runs back through `MlflowServer.call`, plain urllib, independent of proj's client.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DEFAULT_PYTHON = "/opt/proj-ci/mlflow-venv/bin/python"
MLFLOW_VERSION = "3.17.2"


def mlflow_python() -> str:
    return os.environ.get("PROJ_TEST_MLFLOW_PYTHON", DEFAULT_PYTHON)


def mlflow_installed(python: str) -> tuple[bool, str]:
    """Whether `python` has mlflow (without importing it: that takes seconds)."""
    if not Path(python).is_file():
        return False, f"no interpreter at {python} (set PROJ_TEST_MLFLOW_PYTHON or run scripts/mlflow-up.sh)"
    probe = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return False, f"{python} has no mlflow"
    return True, probe.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    def __init__(self, python: str, data: Path, port: int | None = None) -> None:
        self.python = python
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        data.mkdir(parents=True, exist_ok=True)

    @classmethod
    def running_at(cls, url: str, data: Path) -> MlflowServer:
        """A server someone else started (CI's, at PROJ_TEST_MLFLOW_URI): read from, never stopped."""
        server = cls(mlflow_python(), data, int(url.rsplit(":", 1)[1].strip("/")))
        server.url = url.rstrip("/")
        return server

    @classmethod
    def provisioned(cls, data: Path) -> MlflowServer:
        """The test server scripts/provision-ci.sh started (PROJ_TEST_MLFLOW_URI); its tests fail
        without it when PROJ_REQUIRE names mlflow, and skip otherwise."""
        from conftest import require

        url = os.environ.get("PROJ_TEST_MLFLOW_URI")
        require("mlflow", bool(url), "PROJ_TEST_MLFLOW_URI is not set (see scripts/provision-ci.sh)")
        assert url is not None
        found = cls.running_at(url, data)
        require("mlflow", found.healthy(), f"no MLflow server answers at {url}")
        return found

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value) of each logged value of a metric, by step."""
        found = self.call("metrics/get-history", run_id=run_id, metric_key=key).get("metrics", [])
        return sorted((int(m.get("step", 0)), float(m["value"])) for m in found)

    def start(self, timeout: float = 90) -> None:
        argv = [self.python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--backend-store-uri", f"sqlite:///{self.data}/mlflow.db",
                "--artifacts-destination", str(self.data / "artifacts"), "--workers", "1"]
        # Job execution starts extra worker machinery these tests do not use.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.data / "server.log", "ab") as log:
            self.process = subprocess.Popen(argv, cwd=self.data, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited at startup:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server and its uvicorn worker (one process group); wait until they are gone."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        _wait_port_closed(self.port)
        self.process = None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        text = (self.data / "server.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # --- reading back what proj wrote ------------------------------------------------------

    def call(self, endpoint: str, body: dict | None = None, **query) -> dict:
        url = f"{self.url}/api/2.0/mlflow/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def run(self, run_id: str) -> dict:
        """`runs/get`, with tags, params and metrics as plain dicts."""
        run = self.call("runs/get", run_id=run_id)["run"]
        data = run["data"]
        return {"info": run["info"],
                "tags": {t["key"]: t["value"] for t in data.get("tags", [])},
                "params": {p["key"]: p["value"] for p in data.get("params", [])},
                "metrics": {m["key"]: m["value"] for m in data.get("metrics", [])}}

    def runs_in(self, experiment: str) -> list[dict]:
        experiment_id = self.call("experiments/get-by-name", experiment_name=experiment)["experiment"]["experiment_id"]
        return self.call("runs/search", {"experiment_ids": [experiment_id], "max_results": 1000}).get("runs", [])

    def artifact(self, run_id: str, name: str) -> bytes:
        root = self.call("runs/get", run_id=run_id)["run"]["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        url = f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{root}/{name}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()


def _wait_port_closed(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)
