"""What a container gets: -A options, volumes, variables, image names, the run's variables."""

from __future__ import annotations

import pytest

from runner.environments.base import ContainerMount
from runner.environments.docker import PreparedContainer, repository_name
from runner.environments.docker_build import dockerfile_images
from runner.environments.docker_options import (
    RunSettings,
    apply_docker_args,
    declared_variables,
    parse_volume,
)
from runner.environments.docker_section import DockerVariable
from runner.errors import EnvironmentSetupError, UsageError


def settings_for(*args: tuple[str, str | None], root=None, environ=None) -> RunSettings:
    settings = RunSettings()
    apply_docker_args(settings, args, root, environ or {})
    return settings


@pytest.mark.parametrize("arg, options", [
    (("memory", "512m"), {"mem_limit": 512 * 1024**2}),
    (("m", "1.5g"), {"mem_limit": int(1.5 * 1024**3)}),
    (("memory-swap", "-1"), {"memswap_limit": -1}),
    (("shm-size", "64MiB"), {"shm_size": 64 * 1024**2}),
    (("cpus", "1.5"), {"nano_cpus": 1_500_000_000}),
    (("gpus", "all"), {"device_requests": [{"capabilities": [["gpu"]], "count": -1}]}),
    (("gpus", "2"), {"device_requests": [{"capabilities": [["gpu"]], "count": 2}]}),
    (("gpus", '"device=0,2"'), {"device_requests": [{"capabilities": [["gpu"]], "device_ids": ["0", "2"]}]}),
    (("u", "1000:1000"), {"user": "1000:1000"}),
    (("privileged", None), {"privileged": True}),
    (("ulimit", "nofile=1024:2048"), {"ulimits": [{"name": "nofile", "soft": 1024, "hard": 2048}]}),
    (("add-host", "db:host-gateway"), {"extra_hosts": {"db": "host-gateway"}}),
    (("tmpfs", "/scratch:size=64m"), {"tmpfs": {"/scratch": "size=64m"}}),
    (("label", "team=ml"), {"labels": {"team": "ml"}}),
    (("cap-add", "SYS_PTRACE"), {"cap_add": ["SYS_PTRACE"]}),
])
def test_docker_args_map_to_sdk_keywords_with_plain_values(arg, options):
    assert settings_for(arg).options == options


def test_env_network_volume_and_workdir_args_go_to_their_own_settings(tmp_path):
    settings = settings_for(("e", "A=1"), ("env", "B"), ("net", "host"), ("v", f"{tmp_path}:/d:ro"),
                            ("w", "/work"), root=tmp_path, environ={"B": "from-host"})
    assert settings.env == {"A": "1", "B": "from-host"}
    assert (settings.network, settings.workdir) == ("host", "/work")
    assert settings.mounts == [ContainerMount(str(tmp_path), "/d", read_only=True)]
    assert settings.given_args == ["env=A", "env=B", "network=host", f"volume={tmp_path}:/d:ro", "workdir=/work"]


@pytest.mark.parametrize("args, message", [
    ([("entrypoint", "sh")], "'entrypoint' is not a docker run option proj passes on"),
    ([("rm", None)], "proj always removes the container"),
    ([("--cpus", "1")], "without dashes"),
    ([("cpus", None)], "cpus needs a value"),
    ([("read-only", "true")], "read-only takes no value"),
    ([("cpus", "-1")], "not a positive number of CPUs"),
    ([("memory", "1x")], "not a size"),
    ([("user", "1"), ("user", "2")], "user is given twice"),
    ([("network", "container:x")], "joining another container's network"),
    ([("network", "a b")], "is not a network name"),
    ([("env", "UNSET_HERE")], "UNSET_HERE is not set on this machine"),
    ([("gpus", "some")], "gpus=all, gpus=N or gpus=device=ID"),
    ([("workdir", "relative")], "must be an absolute path"),
])
def test_unusable_docker_args_are_usage_errors(args, message):
    with pytest.raises(UsageError) as caught:
        settings_for(*args)
    assert message in str(caught.value)


def test_volumes_resolve_relative_paths_against_the_project_and_name_volumes(tmp_path):
    (tmp_path / "data").mkdir()
    assert parse_volume("./data:/data", tmp_path, "v") == ContainerMount(str(tmp_path / "data"), "/data")
    assert parse_volume("cache:/cache:ro", tmp_path, "v") == ContainerMount("cache", "/cache", True, "volume")
    with pytest.raises(EnvironmentSetupError, match="does not exist"):
        parse_volume("/nonexistent/x:/x", tmp_path, "v")
    for bad in ("/only-one-part", "/a:relative", "/a:/b:rx", "bad name:/x"):
        with pytest.raises(UsageError):
            parse_volume(bad, tmp_path, "v")


def test_declared_variables_copy_or_set_and_name_an_unset_one():
    variables = (DockerVariable("HOSTVAR", None), DockerVariable("SET", "1"))
    assert declared_variables(variables, {"HOSTVAR": "h"}) == {"HOSTVAR": "h", "SET": "1"}
    with pytest.raises(EnvironmentSetupError, match="copies HOSTVAR from this machine, but it is not set"):
        declared_variables(variables, {})


@pytest.mark.parametrize("name, repository", [
    ("Docker Example", "docker-example"),
    ("my_project.v2", "my_project.v2"),
    ("--Weird!!Name__", "weird-name"),
    ("a__b", "a__b"),
    ("日本", "project"),
])
def test_repository_names_are_valid_for_docker(name, repository):
    assert repository_name(name) == repository


def test_dockerfile_images_are_the_external_ones_with_arg_defaults():
    text = ("ARG BASE=python:3.11\nARG TAG\nFROM --platform=linux/amd64 ${BASE} AS build\n"
            "RUN make \\\n  all\nFROM scratch\nCOPY --from=build /x /x\nCOPY --from=tools:1 /t /t\n"
            "FROM build\nFROM $TAG\n")
    assert dockerfile_images(text) == ["python:3.11", "tools:1", "$TAG"]


def prepared(**fields) -> PreparedContainer:
    return PreparedContainer(kind="docker", image="sha256:abc", **fields)


def test_invocation_gets_only_run_variables_and_mounts_a_local_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HOST_ONLY", "x")
    base_env = {"HOST_ONLY": "x", "PATH": "/usr/bin", "PYTHONUNBUFFERED": "1", "PROJ_RUN_ID": "r1",
                "PROJ_TRACKING_URI": str(tmp_path), "PROJ_EXPERIMENT": "Default", "MLFLOW_EXTRA": "from-store"}
    invocation = prepared(container_env={"DECLARED": "d"}).invocation("echo hi", tmp_path, base_env)
    assert dict(invocation.env) == {"PYTHONUNBUFFERED": "1", "DECLARED": "d", "PROJ_RUN_ID": "r1",
                                    "PROJ_TRACKING_URI": str(tmp_path), "PROJ_EXPERIMENT": "Default",
                                    "MLFLOW_EXTRA": "from-store"}
    assert invocation.mounts == (ContainerMount(str(tmp_path), str(tmp_path)),)
    assert invocation.argv[-1] == "echo hi" and invocation.name == "proj-r1"
    assert "network_mode" not in invocation.options  # the daemon's default


def test_a_loopback_store_url_needs_the_host_network():
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5055", "PROJ_RUN_ID": "r1"}
    assert prepared().invocation("true", None, env).options["network_mode"] == "host"
    assert prepared(network="host").invocation("true", None, env).options["network_mode"] == "host"
    with pytest.raises(UsageError, match="loopback address, which a container on network 'none' cannot reach"):
        prepared(network="none").invocation("true", None, env)
    remote = {"MLFLOW_TRACKING_URI": "http://10.1.2.3:5000"}
    assert prepared(network="none").invocation("true", None, remote).options["network_mode"] == "none"


@pytest.mark.parametrize("dockerfile, message", [
    ("missing/Dockerfile", "docker_env.dockerfile: file 'missing/Dockerfile' not found in the project folder"),
    ("../Dockerfile", "docker_env.dockerfile: '../Dockerfile' is outside the project folder"),
])
def test_a_dockerfile_must_be_a_file_inside_the_project(tmp_path, dockerfile, message):
    from runner.errors import SpecError
    from runner.spec import load_project

    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (project / "MLproject").write_text(f"docker_env:\n  image: x:1\n  dockerfile: {dockerfile}\n"
                                       "entry_points:\n  main:\n    command: 'true'\n")
    with pytest.raises(SpecError) as caught:
        load_project(project)
    assert message in str(caught.value)
    (project / "Dockerfile").write_text("FROM x\n")
    (project / "MLproject").write_text((project / "MLproject").read_text().replace(dockerfile, "Dockerfile"))
    assert load_project(project).environment.dockerfile == "Dockerfile"
