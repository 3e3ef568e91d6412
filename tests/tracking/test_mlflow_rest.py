"""proj's MLflow REST client on the wire: authentication, timeouts, and which failures are retried.

A real MLflow server does not fail on demand, so these tests talk to a small HTTP server that
answers with scripted failures (503, 429, 400, a hang) and records what it received.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runner.tracking.mlflow_rest import (
    MlflowApiError,
    MlflowRestClient,
    RetryPolicy,
    ServerUnreachable,
    auth_headers,
)

FAST = RetryPolicy(timeout=2, retries=3, backoff=0.01)


class ScriptedServer:
    """Answers each request with the next (status, body, headers, delay) of a script."""

    def __init__(self, script: list[tuple]) -> None:
        self.script = list(script)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "body": self.rfile.read(length)})
                entry = outer.script.pop(0) if outer.script else ()
                status, body, headers, delay = entry + (200, {}, {}, 0)[len(entry):]
                time.sleep(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except BrokenPipeError:
                    pass  # the client gave up waiting

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(*script: tuple) -> ScriptedServer:
        servers.append(ScriptedServer(list(script)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("environ, expected", [
    ({"MLFLOW_TRACKING_TOKEN": "tok"}, "Bearer tok"),
    ({"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw:1"},
     "Basic " + base64.b64encode(b"ann:pw:1").decode()),
    ({"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"},
     "Bearer tok"),
    ({"MLFLOW_TRACKING_USERNAME": "ann"}, None),  # a user name without a password is not sent
    ({}, None),
])
def test_authorization_follows_mlflows_variables(environ, expected):
    assert auth_headers(environ).get("Authorization") == expected


def test_transient_answers_are_retried_and_credentials_sent_each_time(scripted, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    server = scripted((503, {}), (429, {}, {"Retry-After": "0"}), (200, {"experiment_id": "7"}))
    answer = MlflowRestClient(server.url, FAST).post("experiments/create", {"name": "e"}, idempotent=False)
    assert answer == {"experiment_id": "7"}
    assert len(server.requests) == 3
    assert {r["headers"]["Authorization"] for r in server.requests} == {"Bearer tok-123"}
    assert json.loads(server.requests[-1]["body"]) == {"name": "e"}
    assert server.requests[-1]["path"] == "/api/2.0/mlflow/experiments/create"


def test_a_server_error_that_persists_ends_as_that_error(scripted):
    server = scripted(*[(500, {"error_code": "INTERNAL_ERROR", "message": "db locked"})] * 4)
    with pytest.raises(MlflowApiError) as caught:
        MlflowRestClient(server.url, FAST).get("runs/get", run_id="x")
    assert (caught.value.status, caught.value.error_code, caught.value.message) == (500, "INTERNAL_ERROR", "db locked")
    assert len(server.requests) == 1 + FAST.retries


def test_a_client_error_is_not_retried(scripted):
    server = scripted((400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad key"}))
    with pytest.raises(MlflowApiError, match="INVALID_PARAMETER_VALUE: bad key"):
        MlflowRestClient(server.url, FAST).post("runs/log-batch", {})
    assert len(server.requests) == 1


def test_a_timed_out_create_is_not_sent_twice_but_a_read_is_retried(scripted):
    policy = RetryPolicy(timeout=0.3, retries=2, backoff=0.01)
    server = scripted((200, {}, {}, 1.0))
    with pytest.raises(ServerUnreachable, match="timed out"):
        MlflowRestClient(server.url, policy).post("runs/create", {}, idempotent=False)
    assert len(server.requests) == 1  # the server may have created the run: never a second one

    reads = scripted((200, {}, {}, 1.0), (200, {"run": {}}))
    assert MlflowRestClient(reads.url, policy).get("runs/get", run_id="x") == {"run": {}}
    assert len(reads.requests) == 2


def test_files_are_streamed_to_the_artifact_proxy(scripted, tmp_path):
    server = scripted((200, {}))
    log = tmp_path / "output.log"
    log.write_bytes(b"line\n" * 1000)
    MlflowRestClient(server.url, FAST).put_artifact("3/abc/artifacts/output.log", log)
    [put] = server.requests
    assert (put["method"], put["path"]) == ("PUT", "/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/output.log")
    assert put["body"] == log.read_bytes()
