"""The pure parts of Python environments: specs, requirement files, locks, interpreter matching,
and how a failed build is explained."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from runner.environments.conda_section import CondaEnv
from runner.environments.python_interpreters import _matches, current_interpreter, find_interpreter
from runner.environments.python_requirements import (
    PythonSpec,
    all_hashed,
    key_parts,
    lock_is_stale,
    lock_text,
    locked_requirements,
    python_spec,
    requirement_files,
    requirement_name,
    requirements_input,
)
from runner.environments.python_section import PythonEnv
from runner.environments.virtualenv import _error_summary, _failed_requirement
from runner.errors import EnvironmentSetupError
from runner.spec import Project


def _project(root: Path, environment) -> Project:
    return Project(root, None, "p", environment=environment)


def test_conda_yaml_keeps_python_pip_and_build_tools_and_drops_conda_packages(tmp_path):
    env = CondaEnv(tmp_path / "conda.yaml", "x", ("conda-forge",),
                   ("python=3.11", "pip=23.1", "setuptools>=60", "wheel", "numpy>=1.2", "libgcc-ng"),
                   ("pandas==2.0",))

    spec = python_spec(_project(tmp_path, env))

    assert spec.python == "3.11"
    assert spec.build_dependencies == ("pip==23.1.*", "setuptools>=60", "wheel")
    assert spec.dependencies == ("pandas==2.0",)
    assert spec.dropped == ("numpy>=1.2", "libgcc-ng")
    assert spec.lock_path == tmp_path / "python_env.lock"


def test_requirement_files_are_followed_relative_to_the_file_naming_them(tmp_path):
    (tmp_path / "reqs").mkdir()
    (tmp_path / "requirements.txt").write_text("-r reqs/base.txt\nrequests\n")
    (tmp_path / "reqs" / "base.txt").write_text("-c pins.txt\nnumpy\n# -r ignored.txt\n")
    (tmp_path / "reqs" / "pins.txt").write_text("numpy==1.26\n-r ../requirements.txt\n")
    spec = PythonSpec(tmp_path, tmp_path / "python_env.yaml", None, (), ("-r requirements.txt",))

    files = requirement_files(spec)

    assert [f.relative_to(tmp_path) for f in files] == [
        Path("requirements.txt"), Path("reqs/base.txt"), Path("reqs/pins.txt")]
    names = [name for name, _ in key_parts(spec)]
    assert "file:reqs/pins.txt" in names


def test_a_change_in_a_nested_file_changes_the_key_parts(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r more.txt\n")
    (tmp_path / "more.txt").write_text("numpy\n")
    spec = PythonSpec(tmp_path, tmp_path / "python_env.yaml", None, (), ("-r requirements.txt",))
    before = key_parts(spec)
    (tmp_path / "more.txt").write_text("numpy<2\n")
    assert key_parts(spec) != before


def test_a_missing_nested_requirements_file_is_named(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r gone.txt\n")
    spec = PythonSpec(tmp_path, tmp_path / "python_env.yaml", None, (), ("-r requirements.txt",))
    with pytest.raises(EnvironmentSetupError, match=r"gone.txt \(named in requirements.txt\) cannot be read"):
        requirement_files(spec)


def test_requirements_input_makes_file_options_absolute(tmp_path):
    text = requirements_input(("-r requirements.txt", "--constraint=pins.txt", "numpy>=1", "./local"), tmp_path)
    assert text.splitlines() == [f"-r {tmp_path}/requirements.txt", f"--constraint {tmp_path}/pins.txt",
                                 "numpy>=1", "./local"]


def test_lock_header_tells_a_stale_lock(tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy\n")
    spec = PythonSpec(tmp_path, tmp_path / "python_env.yaml", "3.11",
                      ("pip",), ("-r requirements.txt", "--extra-index-url https://example.org/simple"))
    text = lock_text(spec, "3.11.7", "uv", "numpy==1.26.4 \\\n    --hash=sha256:abc\n")

    assert "--extra-index-url https://example.org/simple" in text  # where packages come from
    assert "# python: 3.11.7; installer: uv" in text
    assert not lock_is_stale(spec, text)
    (tmp_path / "requirements.txt").write_text("numpy<2\n")
    assert lock_is_stale(spec, text)
    assert not lock_is_stale(spec, "numpy==1.0\n")  # not written by proj: nothing to compare


def test_locked_requirements_and_hash_checks():
    text = "# header\n--find-links ./wheels\na==1 \\\n    --hash=sha256:1 \\\n    --hash=sha256:2\nb @ file:///x.whl\n"
    assert locked_requirements(text) == ["a==1      --hash=sha256:1      --hash=sha256:2", "b @ file:///x.whl"]
    assert not all_hashed(text)
    assert all_hashed("a==1 --hash=sha256:1\n")
    assert not all_hashed("# nothing\n")


@pytest.mark.parametrize("line, name", [
    ("scikit-learn>=1.3", "scikit-learn"), ("zope.interface", "zope.interface"),
    ("pkg @ https://x/pkg.whl", "pkg"), ("-r requirements.txt", None), ("# comment", None),
])
def test_requirement_name(line, name):
    assert requirement_name(line) == name


@pytest.mark.parametrize("version, wanted, matches", [
    ("3.11.7", "3.11", True), ("3.11.7", "3.11.7", True), ("3.11.7", "3", True),
    ("3.11.7", "3.1", False), ("3.11.7", "3.11.4", False), ("3.11.7", ">=3.10", False),
])
def test_interpreter_version_matching(version, wanted, matches):
    assert _matches(version, wanted) is matches


def test_no_python_means_the_interpreter_proj_runs_under():
    assert find_interpreter(None) == current_interpreter()
    assert current_interpreter().version == platform.python_version()
    assert find_interpreter(f"{sys.version_info.major}.{sys.version_info.minor}").version == platform.python_version()


def test_python_env_without_a_file_has_no_lock_to_ship(tmp_path):
    spec = python_spec(_project(tmp_path, None))
    assert spec.source is None and spec.requirements == ()
    env = PythonEnv(tmp_path / "envs" / "python_env.yaml", "3.11", ("pip",), ("numpy",))
    assert python_spec(_project(tmp_path, env)).lock_path == tmp_path / "envs" / "python_env.lock"


UV_FAILURE = """\
Using Python 3.11.7 environment at: /x
  × No solution found when resolving dependencies:
  ╰─▶ Because only tinydep<2 is available and tinygreet==1.0 depends on tinydep>=2, we can
      conclude that tinygreet==1.0 cannot be used.
"""


def test_error_summary_keeps_the_tools_explanation_only():
    summary = _error_summary(UV_FAILURE)
    assert summary.startswith("No solution found when resolving dependencies: Because only tinydep<2")
    assert "Using Python" not in summary


def test_the_failed_requirement_is_the_first_of_the_projects_that_the_error_names():
    requirements = [("numpy", "python_env.yaml"), ("tinygreet", "requirements.txt"), ("tinydep", "x.txt")]
    assert _failed_requirement(_error_summary(UV_FAILURE), requirements) == ("tinygreet", "requirements.txt")
    assert _failed_requirement("nothing relevant", requirements) is None
    assert _failed_requirement("No matching distribution found for scikit_learn==9",
                                [("scikit-learn==9", "python_env.yaml")]) == ("scikit-learn==9", "python_env.yaml")
