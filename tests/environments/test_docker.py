"""Docker environments on a real daemon, through the real `proj` CLI.

The base images come from scripts/build-test-images.sh (made from Debian packages, no
registry). Every container runs with network `none` (PROJ_DOCKER_NETWORK); every project gets
a name of its own, and the images built for it are removed after the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import DATA, REPO_ROOT, require, run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.processes import wait_for

pytestmark = pytest.mark.docker

PYTHON_IMAGE = os.environ.get("PROJ_TEST_DOCKER_IMAGE", "proj-test-python:3.11")
BUSYBOX_IMAGE = os.environ.get("PROJ_TEST_BUSYBOX_IMAGE", "proj-test-busybox:latest")
EXAMPLE = REPO_ROOT / "example-projects" / "docker-example"


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure means: no usable daemon here
        require("docker", False, f"no Docker daemon answers ({err}); start it with scripts/docker-up.sh")
    for image in (PYTHON_IMAGE, BUSYBOX_IMAGE):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            require("docker", False, f"image {image} is missing; build it with scripts/build-test-images.sh")
    return client


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setenv("PROJ_DOCKER_NETWORK", "none")  # no test container ever needs a network


@pytest.fixture
def names(docker_client):
    """Unique project names; afterwards no container of theirs may be left, and their images go."""
    used: list[str] = []

    def new(prefix: str = "proj-test") -> str:
        used.append(f"{prefix}-{uuid.uuid4().hex[:8]}")
        return used[-1]

    yield new
    for name in used:
        leftovers = docker_client.containers.list(all=True, filters={"label": f"proj.project={name}"})
        for container in leftovers:
            container.remove(force=True)
        remove_images(docker_client, name)
        assert not leftovers, f"containers left behind: {[c.name for c in leftovers]}"


def remove_images(client, project_label: str) -> None:
    for image in client.images.list(filters={"label": f"proj.project={project_label}"}):
        client.images.remove(image.id, force=True)


def copy_project(source: Path, target: Path, name: str) -> Path:
    shutil.copytree(source, target)
    spec = target / "MLproject"
    spec.write_text(re.sub(r"^name: .*$", f"name: {name}", spec.read_text(), count=1, flags=re.MULTILINE))
    return target


def proj(*args: str, cwd: Path, check_exit: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    return run_proj(*args, cwd=cwd, env=env, check_exit=check_exit, timeout=180)


def record(run_id: str, cwd: Path, *extra: str) -> dict:
    return json.loads(proj("runs", "show", run_id, "--format", "json", *extra, cwd=cwd).stdout)


def lock_of(run_id: str, cwd: Path) -> dict:
    return json.loads((cwd / ".proj" / "runs" / run_id / "docker-image.json").read_text())


def probe_output(completed: subprocess.CompletedProcess) -> dict:
    # The container's stdout and stderr both reach proj's stdout; docker reads them through
    # separate pipes, so the stderr line may come before or after the report.
    return json.loads(next(line for line in completed.stdout.splitlines() if line.startswith("{")))


@pytest.fixture
def probe(tmp_path, names) -> Path:
    return copy_project(DATA / "docker-probe", tmp_path / "probe", names("proj-test-probe"))


# --- the example, parameters, variables ----------------------------------------------------------


def test_example_project_runs_in_an_image_built_from_its_base(tmp_path, docker_client):
    try:
        done = proj("run", str(EXAMPLE), "-P", "alpha=0.3", cwd=tmp_path)
        assert "hello from the container" in done.stdout
        assert "in /mlflow/projects/code" in done.stdout and "epoch 3: loss 0.6141" in done.stdout
        run_id = run_id_of(done)
        environment = record(run_id, tmp_path)["environment"]
        lock = lock_of(run_id, tmp_path)
        base_id = docker_client.images.get(PYTHON_IMAGE).id
        assert environment["kind"] == "docker" and environment["lock"] == "docker-image.json"
        assert lock["base"] == {"image": PYTHON_IMAGE, "id": base_id, "repo_digests": [], "dockerfile": None,
                                "content_hash": None}
        assert lock["image"]["tag"].startswith("docker-example:")
        assert docker_client.images.get(lock["image"]["tag"]).id == lock["image"]["id"]
        assert environment["details"]["image_id"] == lock["image"]["id"]
    finally:
        remove_images(docker_client, "docker-example")


def test_parameters_variables_and_the_store_reach_the_container_and_nothing_else(probe, tmp_path):
    store = tmp_path / "store"
    done = proj("run", str(probe), "-P", "word=two words; $(id)", "-P", "extra=1", "--tracking-uri", str(store),
                "-A", "env=FROM_ARGS=yes", cwd=tmp_path, HOST_ONLY_SECRET="do-not-leak")
    seen = probe_output(done)
    run_id = run_id_of(done)
    assert seen["argv"] == ["two words; $(id)", "--extra", "1"]  # quoted by the MLproject rules, no shell
    env = seen["env"]
    assert {k: env.get(k) for k in ("SET_VAR", "FROM_ARGS", "PROJ_RUN_ID", "PROJ_TRACKING_URI",
                                    "PYTHONUNBUFFERED")} == {
        "SET_VAR": "42", "FROM_ARGS": "yes", "PROJ_RUN_ID": run_id, "PROJ_TRACKING_URI": str(store),
        "PYTHONUNBUFFERED": "1"}
    assert "HOST_ONLY_SECRET" not in env and "PROJ_HOME" not in env
    assert seen["cwd"] == "/mlflow/projects/code" and "probe.py" in seen["files"]
    # stdout and stderr go to the run's log as they did to the terminal
    log = (store / "runs" / run_id / "output.log").read_text()
    assert "to stderr" in log and '"argv"' in log
    assert record(run_id, tmp_path, "--tracking-uri", str(store))["status"] == "FINISHED"


def test_a_local_store_is_mounted_so_files_written_inside_land_in_it(probe, tmp_path):
    (probe / "MLproject").write_text((probe / "MLproject").read_text().replace(
        'command: "python probe.py {word}"',
        'command: "echo from-inside > $PROJ_TRACKING_URI/runs/$PROJ_RUN_ID/inside.txt"'))
    done = proj("run", str(probe), cwd=tmp_path)
    run_id = run_id_of(done)
    assert (tmp_path / ".proj" / "runs" / run_id / "inside.txt").read_text() == "from-inside\n"


@pytest.mark.mlflow
def test_an_mlflow_store_on_loopback_is_reached_over_the_host_network(probe, tmp_path, monkeypatch):
    server = os.environ.get("PROJ_TEST_MLFLOW_URI")
    require("mlflow", bool(server), "PROJ_TEST_MLFLOW_URI is not set (see scripts/provision-ci.sh)")
    experiment = f"proj-docker-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("PROJ_DOCKER_NETWORK")  # no network chosen: proj picks the host network
    done = proj("run", str(probe), "-e", "mlflow", "--tracking-uri", server, "--experiment-name", experiment,
                cwd=tmp_path)
    run_id = run_id_of(done)
    assert re.search(rf"^run {run_id} RUNNING experiment \d+$", done.stdout, re.M)
    # a network chosen on purpose that cannot reach the store: refused, with the way out
    refused = proj("run", str(probe), "-e", "mlflow", "--tracking-uri", server, "--experiment-name", experiment,
                   "-A", "network=none", cwd=tmp_path, check_exit=USAGE)
    assert "loopback address, which a container on network 'none' cannot reach" in refused.stderr
    assert "-A network=host" in refused.stderr


def test_volumes_and_both_forms_of_environment(probe, tmp_path):
    data, readonly = tmp_path / "data", tmp_path / "readonly"
    data.mkdir()
    readonly.mkdir()
    (readonly / "input.txt").write_text("input\n")
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace(
        "  environment:\n",
        f"  volumes: [\"{data}:/data\", \"{readonly}:/ro:ro\"]\n  environment:\n    - COPIED_VAR\n").replace(
        'command: "python probe.py {word}"',
        'command: "cat /ro/input.txt; echo $COPIED_VAR $SET_VAR > /data/out.txt; touch /ro/x || echo ro-refused"'))
    done = proj("run", str(probe), cwd=tmp_path, COPIED_VAR="copied")
    assert "input" in done.stdout and "ro-refused" in done.stdout
    assert (data / "out.txt").read_text() == "copied 42\n"
    assert not (readonly / "x").exists()


def test_a_variable_to_copy_that_is_unset_fails_before_anything_runs(probe, tmp_path):
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace("  environment:\n", "  environment:\n    - PROJ_TEST_UNSET_VAR\n"))
    env = {k: v for k, v in os.environ.items() if k != "PROJ_TEST_UNSET_VAR"}
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(probe)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == SETUP
    assert "copies PROJ_TEST_UNSET_VAR from this machine, but it is not set" in done.stderr
    assert "[PROJ_TEST_UNSET_VAR, value]" in done.stderr
    assert not (tmp_path / ".proj" / "runs").exists() or not any((tmp_path / ".proj" / "runs").iterdir())


# --- images: reuse, rebuild, contents ---------------------------------------------------------


def test_an_unchanged_project_reuses_its_image_and_a_changed_file_rebuilds(probe, tmp_path, docker_client):
    started = time.monotonic()
    first = proj("run", str(probe), cwd=tmp_path)
    first_seconds = time.monotonic() - started
    started = time.monotonic()
    second = proj("run", str(probe), cwd=tmp_path)
    second_seconds = time.monotonic() - started
    first_id, second_id = run_id_of(first), run_id_of(second)
    assert "building image" in first.stderr and "building image" not in second.stderr
    runs = tmp_path / ".proj" / "runs"
    assert (runs / first_id / "build.log").exists() and not (runs / second_id / "build.log").exists()
    assert lock_of(first_id, tmp_path)["image"] == lock_of(second_id, tmp_path)["image"]
    assert record(second_id, tmp_path)["environment"]["details"]["built"] is False
    print(f"first run (build) {first_seconds:.2f} s, second run (reuse) {second_seconds:.2f} s")

    (probe / "probe.py").write_text((probe / "probe.py").read_text().replace("to stderr", "edited line"))
    third = proj("run", str(probe), cwd=tmp_path)
    assert "building image" in third.stderr and "edited line" in third.stdout
    first_image, third_image = lock_of(first_id, tmp_path)["image"], lock_of(run_id_of(third), tmp_path)["image"]
    assert third_image["tag"] != first_image["tag"] and third_image["id"] != first_image["id"]
    assert docker_client.images.get(third_image["tag"]).id == third_image["id"]


def test_concurrent_runs_of_a_new_project_build_its_image_once(probe, tmp_path):
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: proj("run", str(probe), cwd=tmp_path), range(2)))
    assert sum("building image" in run.stderr for run in runs) == 1
    images = [lock_of(run_id_of(run), tmp_path)["image"] for run in runs]
    assert images[0] == images[1]


def test_the_image_leaves_out_dockerignored_files_and_symlinks_to_outside(probe, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET\n")
    (probe / "secret.txt").symlink_to(outside / "secret.txt")
    (probe / "outside-dir").symlink_to(outside)
    (probe / "data").mkdir()
    (probe / "data" / "inside.txt").write_text("inside\n")
    (probe / "alias.txt").symlink_to("data/inside.txt")
    (probe / "data" / "big.bin").write_text("x")
    (probe / "notes.log").write_text("log\n")
    (probe / ".dockerignore").write_text("# comments are skipped\ndata/*.bin\n*.log\n")
    done = proj("run", str(probe), cwd=tmp_path)
    files = probe_output(done)["files"]
    assert "secret.txt" not in files and "outside-dir" not in files and "notes.log" not in files
    assert {"alias.txt", "data", "probe.py", ".dockerignore"} <= set(files)
    assert "left out of the image: outside-dir" in done.stderr
    assert "left out of the image: secret.txt" in done.stderr
    check = proj("run", str(probe), "-e", "fail", "-P", "code=0", cwd=tmp_path)  # same image, reused
    assert "building image" not in check.stderr


def test_no_build_image_runs_the_base_image_with_the_project_mounted(probe, tmp_path, docker_client):
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace('command: "python probe.py {word}"',
                                             'command: "python probe.py {word} && echo written > made-inside.txt"'))
    done = proj("run", str(probe), "--no-build-image", cwd=tmp_path)
    assert probe_output(done)["cwd"] == "/mlflow/projects/code"
    assert (probe / "made-inside.txt").read_text() == "written\n"  # the folder itself, not a copy
    lock = lock_of(run_id_of(done), tmp_path)
    assert lock["image"] is None and lock["project"] == "mounted"
    assert lock["base"]["id"] == docker_client.images.get(PYTHON_IMAGE).id
    assert "building" not in done.stderr


def test_a_dockerfile_builds_the_base_image_once(tmp_path, names, docker_client):
    name = names("proj-test-dockerfile")
    project = copy_project(DATA / "docker-dockerfile", tmp_path / "project", name)
    base_tag = f"{name}-base:latest"
    spec = project / "MLproject"
    spec.write_text(spec.read_text().replace("proj-test-dockerfile-base:latest", base_tag))
    try:
        first = proj("run", str(project), cwd=tmp_path)
        assert first.stdout.splitlines() == ["message v1", "built by the Dockerfile", "message v1"]
        assert f"building {base_tag} from docker/Dockerfile" in first.stderr
        second = proj("run", str(project), cwd=tmp_path)
        assert "building" not in second.stderr
        assert lock_of(run_id_of(second), tmp_path)["base"]["id"] == docker_client.images.get(base_tag).id
    finally:
        docker_client.images.remove(base_tag, force=True)


def test_a_dockerfile_starting_from_a_missing_image_is_refused_without_pulling(tmp_path, names):
    project = copy_project(DATA / "docker-dockerfile", tmp_path / "project", names())
    dockerfile = project / "docker" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("proj-test-busybox:latest", "proj-test-absent:never"))
    done = proj("run", str(project), cwd=tmp_path, check_exit=SETUP)
    assert "docker/Dockerfile builds FROM 'proj-test-absent:never', which is not on this machine" in done.stderr
    assert "--pull" in done.stderr


def test_a_missing_base_image_is_named_and_never_pulled(probe, tmp_path):
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace(PYTHON_IMAGE, "proj-test-absent:never"))
    done = proj("run", str(probe), cwd=tmp_path, check_exit=SETUP)
    assert "Docker image 'proj-test-absent:never' (docker_env.image) is not on this machine" in done.stderr
    assert "--pull" in done.stderr


# --- exit codes, docker args, interruption ----------------------------------------------------------


def test_a_non_zero_exit_propagates_from_a_sh_only_image(probe, tmp_path):
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace(PYTHON_IMAGE, BUSYBOX_IMAGE))  # no bash: runs with sh
    done = proj("run", str(probe), "-e", "fail", "-P", "code=7", cwd=tmp_path, check_exit=7)
    assert done.stdout == "failing\n"  # the command's output, stderr included, is the terminal's
    run_id = run_id_of(done)
    run = record(run_id, tmp_path)
    assert (run["status"], run["exit_code"]) == ("FAILED", 7)
    assert (tmp_path / ".proj" / "runs" / run_id / "output.log").read_text() == "failing\n"


def test_docker_args_become_container_settings(probe, tmp_path):
    done = proj("run", str(probe), "-A", "user=65534", "-A", "memory=64m", "-A", "read-only",
                "-A", "tmpfs=/scratch", cwd=tmp_path)
    seen = probe_output(done)
    assert (seen["uid"], seen["memory_limit"]) == (65534, str(64 * 1024 * 1024))
    assert seen["root_writable"] is False and seen["scratch_is_mount"] is True
    details = record(run_id_of(done), tmp_path)["environment"]["details"]
    assert details["docker_args"] == ["user=65534", "memory=64m", "read-only", "tmpfs=/scratch"]


@pytest.mark.parametrize("arg, message", [
    ("entrypoint=/bin/sh", "'entrypoint' is not a docker run option proj passes on (the entry point"),
    ("rm", "proj always removes the container"),
    ("--gpus=all", "without dashes"),
    ("network=container:abc", "joining another container's network is not supported"),
    ("memory=lots", "is not a size such as 512m"),
    ("privileged=yes", "privileged takes no value"),
])
def test_unsupported_docker_args_are_usage_errors(probe, tmp_path, arg, message):
    done = proj("run", str(probe), "-A", arg, cwd=tmp_path, check_exit=USAGE)
    assert message in done.stderr


def test_an_unreachable_daemon_says_how_to_start_it(probe, tmp_path):
    done = proj("run", str(probe), cwd=tmp_path, check_exit=SETUP, DOCKER_HOST=f"unix://{tmp_path}/no.sock")
    assert f"Cannot reach the Docker daemon at unix://{tmp_path}/no.sock" in done.stderr
    assert "scripts/docker-up.sh" in done.stderr


def start_hanging_run(probe: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen([sys.executable, "-m", "runner", "run", str(probe), "-e", "hang"], cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PROJ_STOP_GRACE_SECONDS": "20"})
    assert child.stdout.readline().strip() == "started"
    run_id = wait_for(lambda: next((p.name for p in (cwd / ".proj" / "runs").iterdir()), None), 10, what="run")
    return child, run_id


def containers_of(client, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"proj.run-id={run_id}"})


def test_ctrl_c_stops_and_removes_the_container_and_records_killed(probe, tmp_path, docker_client):
    child, run_id = start_hanging_run(probe, tmp_path)
    assert len(containers_of(docker_client, run_id)) == 1
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    stdout, _ = child.communicate(timeout=60)
    # well inside the 20 s grace: the signal reached `sleep` itself, not just the shell
    assert time.monotonic() - started < 10
    assert child.returncode == 130 and "not-interrupted" not in stdout
    assert containers_of(docker_client, run_id) == []
    assert record(run_id, tmp_path)["status"] == "KILLED"


def test_a_killed_proj_leaves_no_container_behind(probe, tmp_path, docker_client):
    child, run_id = start_hanging_run(probe, tmp_path)
    child.kill()
    child.communicate(timeout=30)
    wait_for(lambda: containers_of(docker_client, run_id) == [], 30, what="the reaper to remove the container")


# --- sweeps: points in parallel containers ---------------------------------------------------------

SWEEP_ENTRY_POINTS = """
  meet:
    parameters:
      name: string
    # Each point waits until two points have started: run one at a time, the first gives up (exit 9).
    command: >-
      touch started-{name};
      for i in $(seq 400); do [ $(ls started-* | wc -l) -ge 2 ] && exit 0; sleep 0.05; done; exit 9
  wait:
    parameters:
      name: string
    command: "echo started {name}; sleep 120; echo not-interrupted"
"""


def sweep_project(probe: Path) -> str:
    """The probe with entry points for sweeps; its name (the label of its containers)."""
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().rstrip("\n") + SWEEP_ENTRY_POINTS)
    return re.search(r"^name: (.*)$", spec.read_text(), re.MULTILINE).group(1)


def sweep_runs(cwd: Path) -> list[dict]:
    return json.loads(proj("runs", "list", "--format", "json", cwd=cwd).stdout)


def test_the_points_of_a_docker_sweep_run_in_parallel_containers(probe, tmp_path):
    sweep_project(probe)
    # --no-build-image: the containers share the mounted project folder, where they meet.
    proj("run", str(probe), "-e", "meet", "--no-build-image", "--sweep", "name=a,b,c,d", "-j", "2", cwd=tmp_path)
    assert [(r["status"], r["exit_code"]) for r in sweep_runs(tmp_path)] == [("FINISHED", 0)] * 4


def test_ctrl_c_on_a_parallel_docker_sweep_stops_and_removes_every_container(probe, tmp_path, docker_client):
    name = sweep_project(probe)
    child = subprocess.Popen([sys.executable, "-m", "runner", "run", str(probe), "-e", "wait", "--sweep",
                              "name=a,b,c", "-j", "2"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PROJ_STOP_GRACE_SECONDS": "20"})

    def running() -> list:
        return docker_client.containers.list(filters={"label": f"proj.project={name}", "status": "running"})

    wait_for(lambda: len(running()) == 2, 120, what="two points' containers to run")
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert time.monotonic() - started < 10  # forwarded to both containers, not killed after the grace period
    assert docker_client.containers.list(all=True, filters={"label": f"proj.project={name}"}) == []
    assert sorted(r["status"] for r in sweep_runs(tmp_path)) == ["KILLED", "KILLED"]  # c never started


# --- reproduction: run → rerun → diff ------------------------------------------------------


def test_rerun_uses_the_recorded_base_image_and_matches(names, tmp_path):
    name = names()
    project = copy_project(EXAMPLE, tmp_path / "project", name)
    original = run_id_of(proj("run", ".", cwd=project))
    again = run_id_of(proj("rerun", original, cwd=project))
    comparison = json.loads(proj("runs", "diff", original, again, "--format", "json", cwd=project).stdout)
    assert comparison["identical_inputs"] is True, comparison["changes"]
    show = json.loads(proj("runs", "show", again, "--format", "json", cwd=project).stdout)
    assert show["reproduction"]["of"] == original and show["environment"]["details"]["built"] is False


def test_rerun_repeats_the_image_build_choice_and_docker_args(probe, tmp_path):
    """`--no-build-image` and `-A` shaped the run: they are recorded, and a re-run applies them again.
    A variable's value given with -A is never recorded, so the re-run takes it from its own machine."""
    done = proj("run", str(probe), "--no-build-image", "-A", "env=TOKEN=first-secret", "-A", "user=65534",
                cwd=tmp_path)
    original = run_id_of(done)
    options = record(original, tmp_path)["environment"]["options"]
    assert options == {"build_image": False, "docker_args": ["env=TOKEN", "user=65534"]}
    assert "first-secret" not in json.dumps(record(original, tmp_path))

    again = proj("rerun", original, cwd=tmp_path, TOKEN="second-secret")
    seen = probe_output(again)
    assert seen["env"]["TOKEN"] == "second-secret" and seen["uid"] == 65534
    rerun = record(run_id_of(again), tmp_path)
    assert rerun["environment"]["options"] == options
    assert rerun["environment"]["details"]["project"] == "mounted"  # not built into an image
    assert rerun["reproduction"]["drift"] == [
        "-A env=TOKEN: the value was not recorded (it may be secret); this machine's TOKEN was used"]
    assert "drift: -A env=TOKEN" in again.stderr


def test_frozen_refuses_a_base_image_named_by_tag_without_a_lock(names, tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "project", names())
    refused = proj("run", ".", "--frozen", cwd=project, check_exit=USAGE)
    assert "--frozen needs a locked base image" in refused.stderr


def test_rerun_whose_base_image_is_gone_fails_or_drifts(names, tmp_path):
    name = names()
    project = copy_project(EXAMPLE, tmp_path / "project", name)
    original = run_id_of(proj("run", ".", cwd=project))
    export = tmp_path / "card.yaml"  # the lock is edited through an exported card
    proj("runs", "export", original, "-o", str(export), cwd=project)
    import yaml

    data = yaml.safe_load(export.read_text())
    lock = json.loads(data["environment"]["lock"])
    lock["base"]["id"] = "sha256:" + "0" * 64  # an image this machine never had
    data["environment"]["lock"] = json.dumps(lock)
    export.write_text(yaml.safe_dump(data))
    refused = proj("rerun", str(export), cwd=project, check_exit=SETUP)
    assert "recorded in the lock is not on this machine" in refused.stderr
    drifted = proj("rerun", str(export), "--allow-drift", cwd=project)
    record = json.loads(proj("runs", "show", run_id_of(drifted), "--format", "json", cwd=project).stdout)
    assert "environment lock could not be installed" in record["reproduction"]["drift"][0]


def test_another_env_manager_for_a_docker_project_runs_in_docker_with_a_warning(probe, tmp_path):
    spec = probe / "MLproject"
    spec.write_text(spec.read_text().replace(PYTHON_IMAGE, BUSYBOX_IMAGE))
    done = proj("run", str(probe), "-e", "fail", "-P", "code=0", "--env-manager", "virtualenv", cwd=tmp_path)
    assert "warning: this project declares docker_env, so it runs in docker (as with MLflow); " \
           "--env-manager virtualenv is ignored" in done.stderr
    assert record(run_id_of(done), tmp_path)["environment"]["kind"] == "docker"
