"""The registry of environment kinds and the settings contract, on the built-in kinds (pure logic;
plugins are exercised for real in test_kind_plugins.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.environments import registry
from runner.environments.kind import EnvironmentSettings
from runner.errors import UsageError
from runner.spec import load_project


def _project(folder: Path, spec: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLproject").write_text("entry_points: {main: {command: 'true'}}\n" + spec)
    return folder


def test_built_in_kinds_their_managers_and_sections():
    kinds = {kind.name: kind for kind in registry.builtin_kinds()}
    assert list(kinds) == ["local", "virtualenv", "conda", "docker"]
    assert registry.manager_names(builtin_only=True) == ["local", "virtualenv", "uv", "conda", "docker"]
    assert registry.builtin_sections() == ("python_env", "conda_env", "docker_env")
    assert registry.kind_for_manager("uv") is kinds["virtualenv"]
    assert registry.kind_for_section("docker_env") is kinds["docker"]
    assert registry.kind_for_section("entry_points") is None  # core keys belong to no kind
    assert (kinds["docker"].invocation_kind, kinds["virtualenv"].invocation_kind) == ("container", "host")


@pytest.mark.parametrize(("spec", "requested", "chosen"), [
    ("", None, "local"),
    ("docker_env: {image: x}\n", None, "docker"),
    ("docker_env: {image: x}\n", "virtualenv", "docker"),  # as MLflow: docker_env wins (api warns)
    ("", "uv", "virtualenv"),
    ("conda_env: env.yaml\n", "virtualenv", "virtualenv"),  # a conda project under a Python-only manager
    ("conda_env: env.yaml\n", None, "conda"),
])
def test_choosing_a_kind(tmp_path, spec, requested, chosen):
    (tmp_path / "env.yaml").write_text("dependencies: [python=3.11]\n")
    project = load_project(_project(tmp_path, spec))
    assert registry.choose_kind(project, requested).name == chosen


@pytest.mark.parametrize(("spec", "requested", "message"), [
    ("", "docker", "--env-manager docker needs a project with docker_env"),
    ("", "conda", "--env-manager conda needs a project with a conda_env (conda.yaml) or a python_env file"),
    ("", "podman", "Unknown environment manager 'podman'; choose one of local, virtualenv, uv, conda, docker"),
])
def test_kinds_that_cannot_run_a_project_say_why(tmp_path, spec, requested, message):
    project = load_project(_project(tmp_path, spec))
    with pytest.raises(UsageError, match=re.escape(message)):
        registry.choose_kind(project, requested)


def test_settings_come_from_flags_or_env_config_with_defaults_and_checks():
    virtualenv = registry.get_kind("virtualenv")
    assert virtualenv.settings(EnvironmentSettings()).values == {"installer": "uv"}
    assert virtualenv.settings(EnvironmentSettings(config={"installer": "pip"})).values == {"installer": "pip"}
    with pytest.raises(UsageError, match=r"Unknown installer 'conda' \(--installer\); choose one of uv, pip"):
        virtualenv.settings(EnvironmentSettings(flags={"installer": "conda"}))
    with pytest.raises(UsageError, match="--installer and --env-config both set installer; give one"):
        virtualenv.settings(EnvironmentSettings(flags={"installer": "pip"}, config={"installer": "uv"}))
    with pytest.raises(UsageError, match="the virtualenv environment has no setting 'instaler'") as refused:
        virtualenv.settings(EnvironmentSettings(config={"instaler": "pip"}))
    assert refused.value.hint == "its settings: installer"
    docker = registry.get_kind("docker")
    with pytest.raises(UsageError, match="--env-config: build_image must be true or false, got 'no'"):
        docker.settings(EnvironmentSettings(config={"build_image": "no"}))
    assert docker.settings(EnvironmentSettings(config={"docker_args": "memory=1g"})).values["docker_args"] == (
        "memory=1g",)  # one string is a list of one


def test_only_settings_that_shape_the_run_are_recorded_and_secrets_never():
    docker = registry.get_kind("docker")
    given = EnvironmentSettings(flags={"pull": True, "docker_args": ["env=TOKEN=s3cret", "e=A=b", "memory=1g"]})
    recorded = docker.recorded_settings(docker.settings(given))
    assert recorded == {"build_image": True, "docker_args": ["env=TOKEN", "e=A", "memory=1g"]}  # no pull
    assert docker.replay_notes(recorded) == [
        "-A env=TOKEN: the value was not recorded (it may be secret); this machine's TOKEN was used",
        "-A env=A: the value was not recorded (it may be secret); this machine's A was used"]
    conda = registry.get_kind("conda")
    assert conda.recorded_settings(conda.settings(EnvironmentSettings(flags={"conda_channel_alias": "/m"}))) == {}


def test_flags_of_another_kind_are_reported_as_ignored():
    docker = registry.get_kind("docker")
    given = EnvironmentSettings(flags={"installer": "pip", "conda_channel_alias": "/mirror", "pull": True})
    assert registry.ignored_flags(docker, given) == [
        "--installer applies to virtualenv environments, and this run uses docker: ignored"]  # not the envvar one
