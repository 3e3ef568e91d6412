"""A small client for an MLflow tracking server's REST API, on the standard library alone.

It knows HTTP, JSON, authentication and retries; nothing about runs. Transient failures
(connection errors, timeouts, 429 and 5xx answers) are retried with exponential backoff;
everything else comes back at once as an MlflowApiError carrying MLflow's error code.

Settings (environment):
    MLFLOW_TRACKING_TOKEN                      sent as `Authorization: Bearer ...`
    MLFLOW_TRACKING_USERNAME / _PASSWORD       sent as HTTP Basic authentication
    MLFLOW_TRACKING_INSECURE_TLS=true          do not verify the server's certificate
    MLFLOW_TRACKING_SERVER_CERT_PATH           a CA bundle to verify it with
    PROJ_MLFLOW_TIMEOUT    seconds per request (default 10)
    PROJ_MLFLOW_RETRIES    retries after the first attempt (default 4)
    PROJ_MLFLOW_BACKOFF    first delay in seconds, doubled at each retry (default 0.5)
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import random
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from runner.atomicfile import atomic_output
from runner.runfiles import open_without_links

if TYPE_CHECKING:
    import ssl

    from runner.errors import TrackingError

API = "/api/2.0/mlflow/"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts/"
_MAX_DELAY = 30.0

# A JSON object as the server sends it (MLflow's REST messages); the mlflow_* modules map them.
JsonObject = dict[str, Any]


class MlflowApiError(Exception):
    """The server answered with an error that retrying will not fix (or retries ran out)."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        text = f"HTTP {status} ({message})" if error_code == "HTTP_ERROR" else f"HTTP {status} {error_code}: {message}"
        super().__init__(text)
        self.status = status
        self.error_code = error_code
        self.message = message


def json_field(data: JsonObject, *path: str) -> Any:
    """The value at `path` in a server answer; MlflowApiError when the answer lacks it."""
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise MlflowApiError(200, "BAD_RESPONSE", f"the answer has no {'.'.join(path)}")
        value = value[key]
    return value


def json_object(data: JsonObject, *path: str) -> JsonObject:
    """The JSON object at `path` in a server answer (see `json_field`)."""
    value = json_field(data, *path)
    if not isinstance(value, dict):
        raise MlflowApiError(200, "BAD_RESPONSE", f"{'.'.join(path)} is not an object in the answer")
    return value


def json_text(data: JsonObject, *path: str) -> str:
    """The string at `path` in a server answer (see `json_field`)."""
    value = json_field(data, *path)
    if not isinstance(value, str):
        raise MlflowApiError(200, "BAD_RESPONSE", f"{'.'.join(path)} is not a string in the answer")
    return value


def json_objects(data: JsonObject, key: str) -> list[JsonObject]:
    """The list of objects under `key`; MLflow leaves the key out when the list is empty."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MlflowApiError(200, "BAD_RESPONSE", f"{key} is not a list of objects in the answer")
    return value


class ServerUnreachable(Exception):
    """No answer from the server: refused, reset, timed out, or 429/5xx until retries ran out."""


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5

    @classmethod
    def from_environment(cls) -> RetryPolicy:
        return cls(timeout=_env_float("PROJ_MLFLOW_TIMEOUT", cls.timeout),
                   retries=int(_env_float("PROJ_MLFLOW_RETRIES", cls.retries)),
                   backoff=_env_float("PROJ_MLFLOW_BACKOFF", cls.backoff))

    def delay(self, attempt: int) -> float:
        base = min(self.backoff * 2.0 ** attempt, _MAX_DELAY)
        return base + random.uniform(0, base / 10)  # a little jitter: parallel runs spread out


class MlflowRestClient:
    def __init__(self, base_url: str, policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy.from_environment()
        self._headers = auth_headers(os.environ)
        self._ssl_context = _ssl_context(base_url)

    # --- the REST API ----------------------------------------------------------------------

    def get(self, endpoint: str, **query: Any) -> JsonObject:
        url = self.base_url + API + endpoint
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self._json(self._request("GET", url, None, {}, idempotent=True))

    def post(self, endpoint: str, body: JsonObject, *, idempotent: bool = True) -> JsonObject:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        return self._json(self._request("POST", self.base_url + API + endpoint, data, headers, idempotent=idempotent))

    # --- proxied artifacts -----------------------------------------------------------------

    def put_artifact(self, path: str, source: bytes | Path) -> None:
        """Upload to `<experiment>/<run>/artifacts/<name>` through the server's artifact proxy."""
        self._request("PUT", self._artifact_url(path), source, {"Content-Type": "application/octet-stream"},
                      idempotent=True)

    def get_artifact(self, path: str) -> bytes:
        return self._request("GET", self._artifact_url(path), None, {}, idempotent=True)

    def download_artifact(self, path: str, target: Path) -> None:
        """Stream an artifact into `target`, which appears only once it is complete."""
        self._request("GET", self._artifact_url(path), None, {}, idempotent=True, into=target)

    def list_artifact_folder(self, path: str) -> list[JsonObject]:
        """`[{"path": name, "is_dir": bool, "file_size": int}]` of one folder, names relative to it."""
        url = self.base_url + ARTIFACTS_API.rstrip("/") + "?" + urllib.parse.urlencode({"path": path.strip("/")})
        return json_objects(self._json(self._request("GET", url, None, {}, idempotent=True)), "files")

    def _artifact_url(self, path: str) -> str:
        return self.base_url + ARTIFACTS_API + urllib.parse.quote(path.lstrip("/"))

    # --- transport -------------------------------------------------------------------------

    def _request(self, method: str, url: str, body: bytes | Path | None, headers: dict[str, str],
                 *, idempotent: bool, into: Path | None = None) -> bytes:
        """One call, retried on transient failures; returns the response body (or writes it `into`)."""
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, body, headers, into)
            except _Transient as failure:
                if attempt >= self.policy.retries or not (idempotent or failure.not_processed):
                    raise failure.final(attempt + 1) from None
                time.sleep(failure.retry_after or self.policy.delay(attempt))
                attempt += 1

    def _attempt(self, method: str, url: str, body: bytes | Path | None, headers: dict[str, str],
                 into: Path | None) -> bytes:
        all_headers = {**self._headers, **headers}
        with contextlib.ExitStack() as stack:
            data: Any = body
            if isinstance(body, Path):  # stream a file instead of reading it into memory
                # never through a link a run may have put in place of a file it wrote (runner.runfiles)
                data = stack.enter_context(open_without_links(body))
                all_headers["Content-Length"] = str(os.fstat(data.fileno()).st_size)
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
            return self._exchange(request, into)

    def _exchange(self, request: urllib.request.Request, into: Path | None) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.policy.timeout, context=self._ssl_context) as response:
                if into is None:
                    content: bytes = response.read()
                    return content
                _save(response, into)
                return b""
        except urllib.error.HTTPError as err:
            raise _from_http_error(err) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            raise _Transient(_describe(reason), not_processed=isinstance(reason, ConnectionRefusedError)) from None

    @staticmethod
    def _json(raw: bytes) -> JsonObject:
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise MlflowApiError(200, "BAD_RESPONSE", f"not JSON: {raw[:200]!r}") from None
        if not isinstance(data, dict):
            raise MlflowApiError(200, "BAD_RESPONSE", f"not a JSON object: {raw[:200]!r}")
        return data


def _save(response: BinaryIO, target: Path) -> None:
    with atomic_output(target) as handle:
        shutil.copyfileobj(response, handle, 1024 * 1024)


class _Transient(Exception):
    def __init__(self, reason: str, *, status: int | None = None, not_processed: bool = False,
                 retry_after: float | None = None, error: MlflowApiError | None = None) -> None:
        self.reason = reason
        self.status = status
        self.not_processed = not_processed  # safe to resend even a non-idempotent request
        self.retry_after = retry_after
        self.error = error

    def final(self, attempts: int) -> Exception:
        if self.error is not None:  # the server did answer, with 429/5xx every time
            return self.error
        return ServerUnreachable(f"{self.reason} (after {attempts} attempt{'s' if attempts > 1 else ''})")


def _from_http_error(err: urllib.error.HTTPError) -> Exception:
    raw = err.read() or b""
    try:
        payload = json.loads(raw)
        code, message = payload.get("error_code", "UNKNOWN"), payload.get("message", "")
    except ValueError:  # not MLflow answering: a proxy, another web server
        text = " ".join(raw.decode("utf-8", "replace").split())
        code, message = "HTTP_ERROR", str(err.reason) if not text or text.startswith("<") else text[:200]
    error = MlflowApiError(err.code, code, message)
    if err.code == 429 or err.code >= 500:
        return _Transient(f"HTTP {err.code}", status=err.code, not_processed=err.code in (429, 503),
                          retry_after=_retry_after(err.headers.get("Retry-After")), error=error)
    return error


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), _MAX_DELAY) if value else None
    except ValueError:
        return None  # the HTTP-date form: fall back to our own backoff


def _describe(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__


def auth_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """The Authorization header MLflow's own client would send, from MLflow's variables."""
    token = environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = environ.get("MLFLOW_TRACKING_USERNAME"), environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password is not None:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def _ssl_context(base_url: str) -> ssl.SSLContext | None:
    if not base_url.startswith("https:"):
        return None
    import ssl

    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None)


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def as_tracking_error(uri: str, doing: str, err: Exception) -> TrackingError:
    """A TrackingError that says what failed, where, and what to do (never with credentials)."""
    from runner.errors import TrackingError

    if isinstance(err, ServerUnreachable):
        return TrackingError(f"Cannot {doing}: no answer from the MLflow tracking server at {uri} ({err})",
                             hint="start the server, or record elsewhere with --tracking-uri or PROJ_TRACKING_URI")
    assert isinstance(err, MlflowApiError)
    if err.status in (401, 403):
        return TrackingError(f"Cannot {doing}: the MLflow server at {uri} refused access (HTTP {err.status})",
                             hint="set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                                  "MLFLOW_TRACKING_PASSWORD, to credentials allowed to write runs")
    hint = "is this an MLflow tracking server?" if err.error_code == "HTTP_ERROR" else None
    return TrackingError(f"Cannot {doing}: the MLflow server at {uri} answered {err}", hint=hint)
