"""The store found like git finds its repository, and the project's settings file
(runner.projectconfig): through `proj run` and `proj runs list`, as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE
from runner.projectconfig import ProjectConfig, locate_store, project_config

SPEC = "entry_points: {main: {command: 'echo ran'}}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src" / "deep").mkdir(parents=True)
    (folder / "MLproject").write_text(SPEC)
    return folder


def _listed(cwd: Path, *args: str) -> list[dict]:
    return json.loads(run_proj("runs", "list", "--format", "json", *args, cwd=cwd, check_exit=0).stdout)


def test_a_subfolder_finds_the_store_above_it(project: Path) -> None:
    run_id = run_id_of(run_proj("run", ".", cwd=project, check_exit=0))
    deep = project / "src" / "deep"
    assert [r["run_id"] for r in _listed(deep)] == [run_id]
    assert show_run(run_id[:8], deep)["run_id"] == run_id
    # A run started from the subfolder is recorded in the same store, not in a new src/deep/.proj.
    again = run_id_of(run_proj("run", str(project), cwd=deep, check_exit=0))
    assert not (deep / ".proj").exists()
    assert {r["run_id"] for r in _listed(project)} == {run_id, again}


def test_nothing_found_says_where_proj_looked(tmp_path: Path) -> None:
    empty = tmp_path / "a" / "b"
    empty.mkdir(parents=True)
    done = run_proj("runs", "list", cwd=empty, check_exit=0)
    assert done.stdout.strip() == "no runs"
    assert f"no store or proj.toml was found in {empty}, {empty.parent}, {tmp_path}" in done.stderr
    assert "the default store is ./.proj" in done.stderr
    assert not (empty / ".proj").exists()  # listing creates nothing


def test_the_search_stops_below_a_ceiling(project: Path, tmp_path: Path) -> None:
    run_proj("run", ".", cwd=project, check_exit=0)
    deep = project / "src" / "deep"
    done = run_proj("runs", "list", cwd=deep, env={"PROJ_CEILING_DIRECTORIES": str(project / "src")}, check_exit=0)
    assert done.stdout.strip() == "no runs"
    assert str(project) + "," not in done.stderr and str(deep) in done.stderr


def test_an_explicit_store_says_where_it_came_from(tmp_path: Path) -> None:
    done = run_proj("runs", "list", "--tracking-uri", str(tmp_path / "elsewhere"), cwd=tmp_path, check_exit=0)
    assert done.stdout.strip() == "no runs"
    assert f"the store {tmp_path / 'elsewhere'} comes from --tracking-uri" in done.stderr


def test_pyproject_names_the_store_relative_to_itself(project: Path, tmp_path: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.proj]\ntracking_uri = "../shared"\n')
    run_id = run_id_of(run_proj("run", "..", cwd=project / "src", check_exit=0))
    assert (tmp_path / "shared" / "proj.db").is_file() and not (project / ".proj").exists()
    assert [r["run_id"] for r in _listed(project / "src" / "deep")] == [run_id]
    empty = run_proj("runs", "list", "-x", "nope", cwd=project, check_exit=0)
    assert f"comes from [tool.proj] tracking_uri in {project / 'pyproject.toml'}" in empty.stderr
    # An option or a variable beats the file.
    assert _listed(project, "--tracking-uri", str(tmp_path / "other")) == []
    assert run_proj("runs", "list", cwd=project, env={"PROJ_TRACKING_URI": str(tmp_path / "other")},
                    check_exit=0).stdout.strip() == "no runs"


def test_settings_choose_experiment_and_environment_manager(project: Path) -> None:
    (project / "python_env.yaml").write_text("python: '3'\ndependencies: [no-such-package-here]\n")
    (project / "MLproject").write_text("python_env: python_env.yaml\n" + SPEC)
    (project / "proj.toml").write_text('experiment = "vision"\nenv_manager = "local"\n')
    # env_manager = local: no environment is built (its dependency does not exist anywhere).
    run_id = run_id_of(run_proj("run", ".", cwd=project, check_exit=0))
    record = show_run(run_id, project)
    assert (record["experiment"], record["environment"]["kind"]) == ("vision", "local")
    by_variable = run_id_of(run_proj("run", ".", cwd=project, env={"MLFLOW_EXPERIMENT_NAME": "env"}, check_exit=0))
    assert show_run(by_variable, project)["experiment"] == "env"
    by_option = run_id_of(run_proj("run", ".", "--experiment-name", "opt", cwd=project, check_exit=0))
    assert show_run(by_option, project)["experiment"] == "opt"
    chosen = run_proj("run", ".", "--env-manager", "virtualenv", "--dry-run", cwd=project, check_exit=0)
    assert "environment  virtualenv" in chosen.stdout  # the option beats the file


def test_a_configured_store_beats_a_store_in_the_same_folder(project: Path, tmp_path: Path) -> None:
    run_proj("run", ".", cwd=project, check_exit=0)  # project/.proj
    (project / "proj.toml").write_text(f'tracking_uri = "{tmp_path / "configured"}"\n')
    assert _listed(project) == []
    assert locate_store(None, {}, project).uri == str(tmp_path / "configured")


def test_a_nearer_store_beats_a_settings_file_further_up(project: Path, tmp_path: Path) -> None:
    (tmp_path / "proj.toml").write_text('tracking_uri = "far"\nexperiment = "outer"\n')
    run_proj("run", ".", "--tracking-uri", str(project / ".proj"), cwd=project, check_exit=0)
    choice = locate_store(None, {}, project / "src")
    assert (choice.uri, choice.origin) == (str(project / ".proj"), "found")
    # The settings above still give the defaults they give.
    assert project_config(project / "src", {}) == ProjectConfig(tmp_path / "proj.toml", str(tmp_path / "far"),
                                                                "outer", None)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("proj.toml", 'trackin_uri = ".proj"\n',
     "Unknown setting 'trackin_uri' in {path}\n  hint: did you mean 'tracking_uri'? proj reads tracking_uri, "
     "experiment, env_manager"),
    ("proj.toml", "experiment = 5\n", "experiment in {path} must be a non-empty string, not 5"),
    ("proj.toml", "experiment = \n", "{path} is not valid TOML: "),
    ("pyproject.toml", '[tool.proj]\nexperiment = ""\n', "[tool.proj] experiment in {path} must be a non-empty"),
    ("pyproject.toml", "[tool]\nproj = 3\n", "tool.proj in {path} must be a table"),
])
def test_a_broken_settings_file_is_refused(project: Path, name: str, text: str, message: str) -> None:
    (project / name).write_text(text)
    for args in (("run", "."), ("runs", "list")):
        done = run_proj(*args, cwd=project / "src", check_exit=USAGE)
        assert message.format(path=project / name) in done.stderr
        assert "Traceback" not in done.stderr
    assert not (project / ".proj").exists()


def test_a_pyproject_without_proj_settings_is_ignored(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "proj-like"\n[tool.ruff]\nline-length = 1\n')
    run_proj("run", ".", cwd=project, check_exit=0)
    assert (project / ".proj" / "proj.db").is_file()
