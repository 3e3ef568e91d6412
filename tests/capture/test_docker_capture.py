"""A docker run's MLflow logging lands in the proj run too: the run's capture folder is mounted
into the container at the same path (network `none`), like the local store itself.

The base image (scripts/build-test-images.sh) has Python but no MLflow, and no C++ runtime for
numpy; the test installs mlflow-skinny 3.17.2 from the CI wheelhouse into a folder and mounts it
(PYTHONPATH), so the client that logs is the real one, without a registry or a network in the
container, and the project logs all but a model (light.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import require, run_id_of, run_proj, show_run
from helpers.mlflow_clients import CLASSIC, CLIENTS, client_wheelhouse, snapshot

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PYTHON_IMAGE = os.environ.get("PROJ_TEST_DOCKER_IMAGE", "proj-test-python:3.11")


@pytest.fixture
def docker_images():
    """The daemon, with the base image; the project images a test made are removed after it."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
        client.images.get(PYTHON_IMAGE)
    except Exception as err:  # noqa: BLE001 - any failure means: no usable daemon or image here
        require("docker", False, f"no Docker daemon with {PYTHON_IMAGE} ({err}); see scripts/build-test-images.sh")
    names: list[str] = []
    yield names
    for name in names:
        for image in client.images.list(filters={"label": f"proj.project={name}"}):
            client.images.remove(image.id, force=True)


def test_the_containers_mlflow_logging_is_captured(docker_images, tmp_path, monkeypatch):
    monkeypatch.setenv("PROJ_DOCKER_NETWORK", "none")
    libraries = _client_libraries(tmp_path / "mlflow-libs")
    name = f"proj-test-capture-{uuid.uuid4().hex[:8]}"
    docker_images.append(name)
    project = tmp_path / "project"
    shutil.copytree(CLASSIC, project)
    (project / "MLproject").write_text(
        f"name: {name}\n"
        f"docker_env:\n  image: {PYTHON_IMAGE}\n  volumes: ['{libraries}:/opt/mlflow-libs:ro']\n"
        "  environment: [['PYTHONPATH', '/opt/mlflow-libs'], ['HOME', '/tmp']]\n"
        "entry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n"
        "    command: 'python light.py {alpha}'\n")
    before = snapshot(project)
    store = tmp_path / "store"

    done = run_proj("run", str(project), "-P", "alpha=5", "--tracking-uri", str(store), cwd=tmp_path,
                    timeout=600, check_exit=0)
    run_id = run_id_of(done)
    shown = show_run(run_id, tmp_path, "--tracking-uri", str(store))

    assert f"logged run {run_id} with mlflow 3.17.2" in done.stdout
    assert shown["environment"]["kind"] == "docker" and shown["status"] == "FINISHED"
    assert shown["mlflow"]["params"] == {"alpha": "5.0"} and shown["mlflow"]["tags"]["team"] == "capture"
    assert shown["metrics"]["loss"] == {"last": 0.2, "min": 0.2, "max": 0.9, "count": 3, "last_step": 2}
    assert [a["path"] for a in shown["artifacts"]] == ["docs/notes.txt"]
    assert len(shown["child_runs"]) == 1
    assert snapshot(project) == before


def _client_libraries(target: Path) -> Path:
    """mlflow-skinny 3.17.2 installed into `target` (the container's Python is 3.11 too, and the
    wheels are manylinux, so the host can install them for it)."""
    from uv import find_uv_bin

    wheelhouse = client_wheelhouse()
    subprocess.run([find_uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index", "--find-links",
                    str(wheelhouse), "--python", sys.executable, "--target", str(target), CLIENTS["skinny-3"][0]],
                   check=True)
    return target
