"""Talking to the Docker daemon: connecting, and looking images up without ever pulling.

The docker SDK is imported here, inside functions only: it pulls in `requests` (about 100 ms),
which `proj --help` and non-docker runs must not pay for.
"""

from __future__ import annotations

import os
from typing import Any

from runner.errors import EnvironmentSetupError

DEFAULT_HOST = "unix:///var/run/docker.sock"
START_HINT = ("start the daemon (`sudo systemctl start docker`, or `sudo scripts/docker-up.sh` in a "
              "proj checkout), or point DOCKER_HOST at a daemon that is running")


_clients: dict[str, Any] = {}  # one client per daemon address for the life of the process


def connect() -> Any:
    """A docker SDK client for the daemon DOCKER_HOST names, checked to answer."""
    where = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    if where in _clients:
        return _clients[where]
    from runner.extras import require_extra

    require_extra("docker", "A docker environment (docker_env, or --env-manager docker)")
    import docker

    try:
        # "auto" asks the daemon for its API version: that request also proves it answers, so
        # no separate ping (one round trip less on every docker run).
        client = docker.from_env(version="auto")
    except (docker.errors.DockerException, OSError) as err:
        raise EnvironmentSetupError(f"Cannot reach the Docker daemon at {where}: {_reason(err)}",
                                    hint=START_HINT) from err
    _clients[where] = client
    return client


def inspect_image(client: Any, reference: str) -> dict[str, Any] | None:
    """The daemon's description of a local image, or None when it has no such image."""
    import docker

    try:
        described: dict[str, Any] = client.api.inspect_image(reference)
        return described
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as err:
        if err.status_code == 404:  # some daemons answer a malformed reference with a plain 404
            return None
        raise EnvironmentSetupError(f"Docker could not look up image {reference!r}: {explain(err)}") from err


def explain(err: Exception) -> str:
    """The daemon's own words for an API error (the SDK adds the HTTP request around them)."""
    explanation = getattr(err, "explanation", None)
    if explanation:
        return explanation.decode() if isinstance(explanation, bytes) else str(explanation)
    return _reason(err)


def _reason(err: Exception) -> str:
    text = str(err)
    # "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, ...))"
    for known, short in (("FileNotFoundError", "no socket there"), ("ConnectionRefusedError", "connection refused"),
                         ("PermissionError", "permission denied on the socket")):
        if known in text:
            return short
    return text
