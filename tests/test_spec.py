"""MLproject loading: the typed model for valid projects, and every rule's problems for invalid ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, run_proj
from helpers.exitcodes import USAGE
from runner.environments.conda_section import CondaEnv
from runner.environments.docker_section import DockerEnv, DockerVariable
from runner.environments.python_section import PythonEnv
from runner.errors import SpecError, UsageError
from runner.spec import inspect_project, load_project

VALID = DATA / "spec" / "valid"
INVALID = DATA / "spec" / "invalid"
INVALID_FIXTURES = sorted(p.name for p in INVALID.iterdir())


def test_all_parameter_types_and_yaml_1_1_values():
    project = load_project(VALID / "all-types", strict=True)
    params = {p.name: p for p in project.entry_points["main"].parameters}
    assert [p.name for p in project.entry_points["main"].parameters][:3] == ["text", "short_str", "ratio"]
    assert {n: p.type for n, p in params.items() if n in ("text", "short_str", "ratio", "count")} == {
        "text": "string", "short_str": "str", "ratio": "float", "count": "int"}
    assert all(params[n].required for n in ("text", "ratio", "count", "enabled", "data", "target"))
    # YAML 1.1 as MLflow reads it: 1e-1 stays a string, .0 is a float, yes is a boolean
    assert params["scientific"].default == "1e-1"
    assert params["dot_zero"].default == 0.0 and isinstance(params["dot_zero"].default, float)
    assert params["yes_flag"].default is True
    assert params["required_too"].required
    assert params["untyped"].type == "string" and params["untyped"].default == "plain"
    assert params["described"].description == "how many"


def test_block_and_folded_commands_keep_yaml_semantics():
    project = load_project(VALID / "block-and-folded", strict=True)
    assert project.entry_points["main"].command == (
        "python train.py \\\n  --epochs {epochs} \\\n  --out {out}\n"
    )
    assert project.entry_points["folded"].command == "python train.py --rate {rate}\n"


def test_lower_case_file_name_is_found():
    project = load_project(VALID / "lowercase-name")
    assert project.spec_file.name == "mlproject"
    assert project.name == "lowercase"


def test_docker_env_with_volumes_and_both_forms_of_environment():
    env = load_project(VALID / "docker-env", strict=True).environment
    assert env == DockerEnv(
        image="proj-test-python:3.11",
        volumes=("/tmp/data:/data", "/tmp/cache:/cache:ro"),
        environment=(DockerVariable("HOME", None), DockerVariable("MODE", "train"),
                     DockerVariable("WORKERS", "4")),
    )


def test_python_env_file_is_parsed_and_requirement_files_checked():
    env = load_project(VALID / "python-env", strict=True).environment
    assert isinstance(env, PythonEnv)
    assert env.python == "3.11" and env.build_dependencies == ("pip",)
    assert env.dependencies == ("numpy>=1.24", "-r requirements.txt")


def test_conda_env_file_is_parsed():
    env = load_project(VALID / "conda-env", strict=True).environment
    assert isinstance(env, CondaEnv)
    assert env.channels == ("conda-forge",)
    assert env.dependencies == ("python=3.11", "greet-tool>=1.0", "pip")
    assert env.pip == ("requests==2.31.0",)
    assert env.python_pin() == "3.11"
    assert env.conda_packages() == ("greet-tool>=1.0", "pip")
    assert env.variables == (("GREETING", "hello"),)


def test_conventional_python_env_file_is_used_without_a_key():
    env = load_project(VALID / "conventional-env").environment
    assert isinstance(env, PythonEnv) and env.file.name == "python_env.yaml"


def test_literal_braces_are_not_placeholders():
    project = load_project(VALID / "literal-braces", strict=True)
    assert project.entry_points["main"].command.count("{{") == 1


def test_model_is_frozen():
    project = load_project(VALID / "all-types")
    with pytest.raises(AttributeError):
        project.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        project.entry_points["x"] = None  # type: ignore[index]


def test_project_without_mlproject_has_no_entry_points(tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    project = load_project(tmp_path)
    assert project.spec_file is None and dict(project.entry_points) == {}
    assert project.entry_point("train.py").command == "python train.py"


def test_script_fallback_needs_the_script(tmp_path):
    project = load_project(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        project.entry_point("missing.py")
    with pytest.raises(UsageError, match=r"Could not find 'nope' among entry points \[\]"):
        project.entry_point("nope")


def test_shell_script_fallback_uses_shell(tmp_path, monkeypatch):
    (tmp_path / "run me.sh").write_text("echo hi\n")
    monkeypatch.setenv("SHELL", "/bin/zsh")
    assert load_project(tmp_path).entry_point("run me.sh").command == "/bin/zsh 'run me.sh'"


@pytest.mark.parametrize("fixture", INVALID_FIXTURES)
def test_invalid_fixture_reports_expected_problems(fixture):
    folder = INVALID / fixture
    expected = (folder / "expected.txt").read_text()
    result = run_proj("validate", cwd=folder)
    assert result.stdout == expected
    has_errors = ": error: " in expected
    assert result.returncode == (1 if has_errors else 0), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fixture", INVALID_FIXTURES)
def test_invalid_fixture_fails_under_strict(fixture):
    result = run_proj("validate", "--strict", cwd=INVALID / fixture)
    assert result.returncode == 1
    assert ": warning: " not in result.stdout  # every warning became an error


def test_load_project_raises_with_all_problems():
    with pytest.raises(SpecError) as caught:
        load_project(INVALID / "undeclared-placeholder")
    assert len(caught.value.problems) == 3
    assert "{l1_ration}" in str(caught.value)


def test_warnings_are_kept_on_the_project_and_refused_under_strict():
    project = load_project(INVALID / "duplicate-keys")
    assert [w.line for w in project.warnings] == [2, 6]
    with pytest.raises(SpecError):
        load_project(INVALID / "duplicate-keys", strict=True)


def _write(folder: Path, name: str, content: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _only_problem(folder: Path):
    problems = inspect_project(folder).problems
    assert len(problems) == 1, problems
    return problems[0]


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    _write(tmp_path, "MLproject", "\n".join(lines) + "\n")
    problem = _only_problem(tmp_path)
    assert "too large once its aliases are expanded" in problem.message


def test_recursive_alias_is_refused(tmp_path):
    _write(tmp_path, "MLproject", "entry_points: &loop\n  main: *loop\n")
    assert "refers to itself" in _only_problem(tmp_path).message


def test_deep_nesting_is_refused(tmp_path):
    _write(tmp_path, "MLproject", "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in _only_problem(tmp_path).message


def test_non_utf8_file_is_reported_with_its_line(tmp_path):
    _write(tmp_path, "MLproject", b"name: ok\nentry_points:\n  main: {command: \"echo \xff\"}\n")
    problem = _only_problem(tmp_path)
    assert (problem.line, problem.column) == (3, 25)
    assert problem.message == "file is not valid UTF-8 (byte 0xff); save it as UTF-8"


def test_empty_file_is_a_warning(tmp_path):
    _write(tmp_path, "MLproject", "# nothing yet\n")
    problem = _only_problem(tmp_path)
    assert not problem.is_error and "empty" in problem.message


def test_two_spec_files_differing_in_case_are_ambiguous(tmp_path):
    _write(tmp_path, "MLproject", "name: a\n")
    _write(tmp_path, "mlproject", "name: b\n")
    with pytest.raises(SpecError, match="several MLproject files"):
        load_project(tmp_path)


def test_non_string_names_are_errors(tmp_path):
    _write(tmp_path, "MLproject", "entry_points:\n  1:\n    parameters: {2: float}\n    command: echo\n")
    result = run_proj("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "MLproject:2:3: error: entry point name 1 must be a string; quote it" in result.stdout


def test_json_format_lists_problems_with_positions():
    result = run_proj("validate", "--format", "json", cwd=INVALID / "two-environments")
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["problems"] == [{
        "file": "MLproject", "line": 3, "column": 1, "severity": "error",
        "message": "only one of python_env, conda_env and docker_env may be given; found python_env and conda_env",
    }]


def test_github_format_is_workflow_annotations():
    result = run_proj("validate", "--format", "github", cwd=INVALID / "duplicate-keys")
    assert result.stdout.splitlines() == [
        "::warning file=MLproject,line=2,col=1::name: key written twice; the last value is used",
        "::warning file=MLproject,line=6,col=5::entry_points.main.command: key written twice; the last value is used",
    ]


def test_several_paths_and_environment_files_directly():
    result = run_proj("validate", str(VALID / "python-env"), str(INVALID / "bad-python-env" / "python_env.yaml"),
                      str(INVALID / "missing-env-file" / "MLproject"))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(str(INVALID / "bad-python-env" / "python_env.yaml") + ":1:9: error:") for line in lines)
    assert any(line.startswith(str(INVALID / "missing-env-file" / "MLproject") + ":2:12: error:") for line in lines)


def test_missing_path_is_bad_usage(tmp_path):
    result = run_proj("validate", str(tmp_path / "nothing-here"))
    assert result.returncode == USAGE
    assert "No such file or folder" in result.stderr and "Traceback" not in result.stderr


def test_folder_without_mlproject_is_an_error(tmp_path):
    result = run_proj("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "no MLproject file found" in result.stdout


def test_unknown_file_kind_is_an_error(tmp_path):
    path = _write(tmp_path, "notes.txt", "hello")
    result = run_proj("validate", str(path))
    assert result.returncode == 1 and "not an MLproject" in result.stdout
