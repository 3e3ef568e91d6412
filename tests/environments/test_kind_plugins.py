"""Environment kinds from other packages, found through the entry-point group `proj.environments`.

The example plugin (tests/data/plugin-environment, the one docs/plugins.md describes: a
`toolbox_env` section whose runs see only the commands it lists) is built and installed for
real, into a folder of its own that only the `proj` processes of these tests see through
PYTHONPATH. Nothing under runner/ knows it: validate, info, run, runs diff and rerun all reach
it through the registry. The clashing plugins are bare distribution metadata, which is all
that entry-point lookup reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import DATA, diff_of, run_id_of, run_proj, show_run
from helpers.exitcodes import SETUP, USAGE
from helpers.plugins import install_plugin

SPEC = """\
name: toolbox-demo
toolbox_env:
  tools: [greet, python3]
  variables: {GREETING: hello}
entry_points:
  main:
    parameters: {who: {type: string, default: world}}
    command: "greet {who} && python3 -c 'import shutil; print(\\"git:\\", shutil.which(\\"git\\"))'"
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The example plugin, built with hatchling (a test dependency) and installed into a folder."""
    return install_plugin(DATA / "plugin-environment", tmp_path_factory.mktemp("kind-plugin"))


@pytest.fixture
def tools(tmp_path) -> Path:
    """A folder holding `greet`, a tool of our own whose content a test can change."""
    folder = tmp_path / "tools"
    folder.mkdir()
    _write_greet(folder, "v1")
    return folder


@pytest.fixture
def env(plugin_site, tools) -> dict[str, str]:
    return {"PYTHONPATH": str(plugin_site), "PATH": f"{tools}:{os.environ['PATH']}"}


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder


def _write_greet(folder: Path, version: str) -> None:
    greet = folder / "greet"
    greet.write_text(f'#!/bin/sh\necho "$GREETING $1 ({version})"\n')
    greet.chmod(0o755)


def test_validate_positions_problems_inside_the_plugin_section(env, project):
    (project / "MLproject").write_text(SPEC.replace("[greet, python3]", "[greet, no-such-tool-here, ./x]")
                                       .replace("{GREETING: hello}", "{GREETING: [1]}"))
    done = run_proj("validate", str(project), env=env, check_exit=1)
    lines = done.stdout.splitlines()
    assert "MLproject:4:25: error: toolbox_env.variables.GREETING: expected a string, got a list" in lines[0]
    # Semantic checks of the plugin run only once its schema passes.
    (project / "MLproject").write_text(SPEC.replace("[greet, python3]", "[greet, no-such-tool-here, ./x]"))
    problems = run_proj("validate", str(project), env=env, check_exit=1).stdout.splitlines()
    assert any(p.endswith("MLproject:3:18: error: toolbox_env.tools[1]: 'no-such-tool-here' is not on this "
                          "machine's PATH") for p in problems), problems
    assert any(p.endswith("MLproject:3:37: error: toolbox_env.tools[2]: './x' is a path; give a command name")
               for p in problems), problems


def test_without_the_plugin_the_section_is_an_unknown_key(tools, project):
    done = run_proj("validate", str(project), check_exit=0)
    assert "MLproject:2:1: warning: unknown key 'toolbox_env'" in done.stdout


def test_info_describes_the_plugin_section(env, project):
    text = run_proj("info", str(project), env=env, check_exit=0).stdout
    assert "environment  toolbox_env (2 tools: greet, python3)" in text
    data = json.loads(run_proj("info", str(project), "--format", "json", env=env, check_exit=0).stdout)
    assert data["environment"] == {"kind": "toolbox_env", "tools": ["greet", "python3"],
                                   "variables": {"GREETING": "hello"}}


def test_a_run_sees_only_the_toolbox_and_records_its_lock_and_settings(env, project, tools):
    done = run_proj("run", ".", "-P", "who=ada", cwd=project, env=env, check_exit=0)
    assert done.stdout == "hello ada (v1)\ngit: None\n"
    record = show_run(run_id_of(done), project)
    environment = record["environment"]
    assert (environment["kind"], environment["lock"], environment["options"]) == ("toolbox", "toolbox.lock",
                                                                                  {"isolate": True})
    assert environment["key"].startswith("toolbox-")
    lock = _lock(record["run_id"], project)
    assert [line.split(" ")[0] for line in lock.splitlines()] == ["greet", "python3", "bash"]
    assert f"greet sha256:{hashlib.sha256((tools / 'greet').read_bytes()).hexdigest()} {tools / 'greet'}" in lock


def test_env_config_reaches_the_plugin_and_is_reproduced_by_rerun(env, project):
    first = run_proj("run", ".", "--env-config", '{"isolate": false}', cwd=project, env=env, check_exit=0)
    git = shutil.which("git")
    assert first.stdout == f"hello world (v1)\ngit: {git}\n"
    original = run_id_of(first)
    assert show_run(original, project)["environment"]["options"] == {"isolate": False}

    again = run_proj("rerun", original, cwd=project, env=env, check_exit=0)
    assert again.stdout == first.stdout
    rerun = show_run(run_id_of(again), project)
    assert rerun["environment"]["options"] == {"isolate": False}
    assert rerun["reproduction"] == {"of": original, "deliberate": [], "drift": []}
    diff = diff_of(original, rerun["run_id"], project)
    assert diff["identical_inputs"], diff["changes"]


def test_runs_diff_reads_the_plugin_lock(env, project, tools):
    a = run_id_of(run_proj("run", ".", cwd=project, env=env, check_exit=0))
    _write_greet(tools, "v2")
    b = run_id_of(run_proj("run", ".", "--env-config", '{"isolate": false}', cwd=project, env=env, check_exit=0))
    changes = {(c["section"], c["name"]): (c["a"], c["b"]) for c in diff_of(a, b, project, env=env)["changes"]}
    old, new = changes[("packages", "greet")]
    assert old.startswith("sha256:") and new.startswith("sha256:") and old != new
    assert ("packages", "python3") not in changes  # the same interpreter both times
    assert changes[("environment", "options.isolate")] == (True, False)
    # Where the plugin is not installed, the locks are still compared, whole.
    unread = {c["name"] for c in diff_of(a, b, project)["changes"] if c["section"] == "packages"}
    assert unread == {"lock (sha256)"}


def test_rerun_refuses_a_tool_that_changed_unless_drift_is_allowed(env, project, tools):
    original = run_id_of(run_proj("run", ".", cwd=project, env=env, check_exit=0))
    _write_greet(tools, "v2")

    refused = run_proj("rerun", original, cwd=project, env=env, check_exit=SETUP)
    assert f"Cannot reproduce run {original} exactly: toolbox_env: greet is not the one the lock records" \
        in refused.stderr

    drifted = run_proj("rerun", original, "--allow-drift", cwd=project, env=env, check_exit=0)
    assert drifted.stdout == "hello world (v2)\ngit: None\n"
    drift = show_run(run_id_of(drifted), project)["reproduction"]["drift"]
    assert drift == ["the recorded environment lock could not be installed (toolbox_env: greet is not the one "
                     f"the lock records ({tools / 'greet'}, {_lock_digest(original, project, 'greet')})); "
                     "the environment was resolved again"]


def _lock(run_id: str, project: Path) -> str:
    """The lock kept with a run, read from its run card."""
    card = run_proj("runs", "export", run_id, cwd=project, check_exit=0).stdout
    return yaml.safe_load(card)["environment"]["lock"]


def _lock_digest(run_id: str, project: Path, tool: str) -> str:
    return next(line.split(" ")[1] for line in _lock(run_id, project).splitlines() if line.startswith(f"{tool} "))


def test_a_rerun_of_a_run_recorded_without_settings_says_so(env, project, tmp_path):
    original = run_id_of(run_proj("run", ".", "--env-config", '{"isolate": false}', cwd=project, env=env,
                                  check_exit=0))
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=project, check_exit=0)
    data = yaml.safe_load(card.read_text())
    data["environment"]["options"] = None  # as proj recorded runs before it kept settings
    card.write_text(yaml.safe_dump(data))
    again = run_proj("rerun", str(card), cwd=project, env=env, check_exit=0)
    assert again.stdout == "hello world (v1)\ngit: None\n"  # the kind's default: isolated
    note = (f"the original run's toolbox settings were not recorded (proj {data['proj_version']}); "
            "this run used the defaults")
    assert show_run(run_id_of(again), project)["reproduction"]["drift"] == [note]


def test_the_printed_schema_has_the_plugin_section(env):
    printed = json.loads(run_proj("validate", "--print-schema", env=env, check_exit=0).stdout)
    assert printed["properties"]["toolbox_env"]["required"] == ["tools"]


def test_a_rerun_needs_the_plugin_installed(env, project):
    original = run_id_of(run_proj("run", ".", cwd=project, env=env, check_exit=0))
    done = run_proj("rerun", original, cwd=project, check_exit=SETUP)
    assert f"Cannot reproduce run {original} exactly: the environment kind 'toolbox' is not installed here" \
        in done.stderr


def test_manager_names_and_settings_come_from_the_plugin(env, project, tmp_path):
    unknown = run_proj("run", ".", "--env-manager", "podman", cwd=project, env=env, check_exit=USAGE)
    assert "Unknown environment manager 'podman'; choose one of local, virtualenv, uv, conda, docker, toolbox" \
        in unknown.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "MLproject").write_text("entry_points:\n  main:\n    command: 'true'\n")
    refused = run_proj("run", ".", "--env-manager", "toolbox", cwd=plain, env=env, check_exit=USAGE)
    assert "--env-manager toolbox needs a project with toolbox_env" in refused.stderr
    declared = run_proj("run", ".", "--env-manager", "virtualenv", cwd=project, env=env, check_exit=0)
    assert ("warning: this project declares toolbox_env, so it runs in toolbox (as with MLflow); "
            "--env-manager virtualenv is ignored") in declared.stderr
    assert show_run(run_id_of(declared), project)["environment"]["kind"] == "toolbox"
    misspelt = run_proj("run", ".", "--env-config", '{"isolated": true}', cwd=project, env=env, check_exit=USAGE)
    assert "--env-config: the toolbox environment has no setting 'isolated'" in misspelt.stderr
    assert "its settings: isolate" in misspelt.stderr
    assert len(json.loads(run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout)) == 1


def _fake_distribution(folder: Path, name: str, entry_points: str) -> Path:
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[proj.environments]\n{entry_points}\n")
    return folder


@pytest.mark.parametrize(("entry_point", "message"), [
    ("docker = proj_toolbox_env:ToolboxKind",
     "The environment kind plugin 'docker' from fake-kind clashes with proj's built-in 'docker'"),
    ("toolbox = proj_toolbox_env:ToolboxKind",
     "Two environment kind plugins are named 'toolbox': proj-toolbox-env and fake-kind"),
    ("broken = no_such_module_here:Kind", "The environment kind plugin 'broken' from fake-kind failed to load"),
    ("other = proj_toolbox_env:ToolboxKind", "The environment kind plugin 'other' calls itself 'toolbox'"),
])
def test_broken_and_clashing_plugins_are_refused(plugin_site, project, tmp_path, entry_point, message):
    fake = _fake_distribution(tmp_path / "fake", "fake-kind", entry_point)
    done = run_proj("run", ".", cwd=project, env={"PYTHONPATH": f"{plugin_site}:{fake}"}, check_exit=SETUP)
    assert message in done.stderr and "Traceback" not in done.stderr
