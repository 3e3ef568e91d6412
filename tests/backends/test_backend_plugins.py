"""Backends from other packages, found through the entry-point group `proj.backends`.

The example plugin (tests/data/plugin-backend, the one docs/plugins.md describes) is built and
installed for real into a folder of its own, which only the `proj` processes of these tests see
through PYTHONPATH; the test environment itself is never changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import DATA, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.plugins import install_plugin

SPEC = """\
name: niceness
entry_points:
  main:
    command: "python3 -c 'import os; print(\\"niceness\\", os.nice(0))'"
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The example plugin, built with hatchling (a test dependency) and installed into a folder."""
    return install_plugin(DATA / "plugin-backend", tmp_path_factory.mktemp("backend-plugin"))


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "MLproject").write_text(SPEC)
    return tmp_path


def test_a_backend_from_a_plugin_package_runs_the_command_with_its_settings(plugin_site, project):
    env = {"PYTHONPATH": str(plugin_site)}
    expected = min(os.nice(0) + 7, 19)

    done = run_proj("run", ".", "-b", "nice", "--backend-config", '{"niceness": 7}', cwd=project, env=env,
                    check_exit=0)

    assert done.stdout == f"niceness {expected}\n"
    run_id = done.stderr.split("proj: run ")[1].split()[0]
    record = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)
    assert (record["backend"], record["status"], record["job"]) == ("nice", "FINISHED", None)


def test_rerun_runs_on_the_same_backend_with_the_same_settings(plugin_site, project):
    env = {"PYTHONPATH": str(plugin_site)}
    expected = min(os.nice(0) + 7, 19)
    first = run_proj("run", ".", "-b", "nice", "--backend-config", '{"niceness": 7}', cwd=project, env=env,
                     check_exit=0)
    original = first.stderr.split("proj: run ")[1].split()[0]

    again = run_proj("rerun", original, cwd=project, env=env, check_exit=0)
    assert again.stdout == f"niceness {expected}\n"
    assert "backend nice" in again.stderr  # the re-run says where it runs
    rerun = json.loads(run_proj("runs", "show", again.stderr.split("proj: run ")[1].split()[0], "--format", "json",
                                cwd=project, check_exit=0).stdout)
    assert (rerun["backend"], rerun["backend_config"], rerun["reproduction"]["drift"]) == ("nice", {"niceness": 7}, [])


def test_rerun_without_the_recorded_backend_fails_or_runs_here_as_drift(plugin_site, project):
    first = run_proj("run", ".", "-b", "nice", "--backend-config", '{"niceness": 7}', cwd=project,
                     env={"PYTHONPATH": str(plugin_site)}, check_exit=0)
    original = first.stderr.split("proj: run ")[1].split()[0]

    refused = run_proj("rerun", original, cwd=project, check_exit=SETUP)  # the plugin is not installed here
    assert f"Cannot reproduce run {original} exactly: its backend 'nice' cannot be used here" in refused.stderr
    drifted = run_proj("rerun", original, "--allow-drift", cwd=project, check_exit=0)
    assert drifted.stdout == f"niceness {os.nice(0)}\n"
    rerun = json.loads(run_proj("runs", "show", drifted.stderr.split("proj: run ")[1].split()[0], "--format",
                                "json", cwd=project, check_exit=0).stdout)
    assert rerun["backend"] == "local"
    assert rerun["reproduction"]["drift"] == [
        "the backend 'nice' cannot be used here (Unknown backend 'nice'; choose one of local, slurm); "
        "this run ran on local"]


def test_a_plugin_refuses_its_bad_settings_before_anything_runs(plugin_site, project):
    done = run_proj("run", ".", "-b", "nice", "--backend-config", '{"niceness": 40}', cwd=project,
                    env={"PYTHONPATH": str(plugin_site)}, check_exit=USAGE)
    assert "niceness must be a whole number from 0 to 19, got 40" in done.stderr
    assert run_proj("runs", "list", cwd=project, check_exit=0).stdout.strip() == "no runs"


def test_an_attached_only_plugin_cannot_detach(plugin_site, project):
    done = run_proj("run", ".", "-b", "nice", "--detach", cwd=project, env={"PYTHONPATH": str(plugin_site)},
                    check_exit=USAGE)
    assert "The nice backend cannot run detached" in done.stderr


def test_an_unknown_backend_lists_the_known_ones(plugin_site, project):
    done = run_proj("run", ".", "-b", "nope", cwd=project, env={"PYTHONPATH": str(plugin_site)}, check_exit=USAGE)
    assert "Unknown backend 'nope'; choose one of local, nice, slurm" in done.stderr


def test_a_plugin_may_not_take_a_built_in_name(tmp_path, project):
    info = tmp_path / "site" / "fake_slurm-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-slurm\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[proj.backends]\nslurm = fake_slurm:make\n")
    done = run_proj("run", ".", "-b", "other", cwd=project, env={"PYTHONPATH": str(tmp_path / "site")},
                    check_exit=SETUP)
    assert "The backend plugin 'slurm' from fake-slurm clashes with proj's built-in 'slurm'" in done.stderr


def test_backend_config_as_a_json_file_with_the_short_option(plugin_site, project, tmp_path):
    settings = tmp_path / "settings.json"  # as `mlflow run -c cluster.json`
    settings.write_text('{"niceness": 5}')
    done = run_proj("run", ".", "-b", "nice", "-c", str(settings), cwd=project, env={"PYTHONPATH": str(plugin_site)},
                    check_exit=0)
    assert done.stdout == f"niceness {min(os.nice(0) + 5, 19)}\n"


def test_a_backend_is_refused_an_invocation_kind_it_does_not_accept_before_anything_is_built(plugin_site,
                                                                                            tmp_path):
    """The nice backend accepts host commands only; a docker project asks for a container."""
    (tmp_path / "MLproject").write_text("name: boxed\ndocker_env:\n  image: no-such-image-is-needed:1\n"
                                        "entry_points:\n  main:\n    command: \"touch ran\"\n")
    done = run_proj("run", ".", "-b", "nice", cwd=tmp_path, env={"PYTHONPATH": str(plugin_site)},
                    check_exit=USAGE)
    assert ("The nice backend cannot run docker environments: they run as a container, and it starts "
            "a command on the host") in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ran").exists()
    listed = run_proj("runs", "list", "--format", "json", cwd=tmp_path, check_exit=0).stdout
    assert json.loads(listed) == []  # nothing recorded (and no image: the daemon was never asked)
