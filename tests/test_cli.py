"""The command line around the main commands: info, version, help, the pre-commit hook."""

from __future__ import annotations

import json
import re

import yaml

from conftest import DATA, REPO_ROOT, run_proj
from helpers.exitcodes import SETUP, USAGE
from runner import __version__


def test_info_text_shows_environment_entry_points_and_parameters():
    result = run_proj("info", str(DATA / "spec" / "valid" / "elasticnet-wine"), check_exit=0)
    lines = result.stdout.splitlines()
    assert lines[0] == "project      tutorial"
    assert "environment  python_env (python_env.yaml: python 3.11, 2 dependencies)" in lines
    assert "    command: python train.py {alpha} {l1_ratio}" in lines
    assert "    - alpha (float, default 0.5)" in lines


def test_info_json_has_typed_parameters():
    result = run_proj("info", str(DATA / "spec" / "valid" / "all-types"), "--format", "json", check_exit=0)
    data = json.loads(result.stdout)
    params = {p["name"]: p for p in data["entry_points"]["main"]["parameters"]}
    assert params["yes_flag"]["default"] is True and params["ratio"]["required"] is True
    assert params["described"]["description"] == "how many"
    assert data["environment"] is None


def test_info_on_an_invalid_project_exits_125_with_the_problems():
    result = run_proj("info", str(DATA / "spec" / "invalid" / "two-environments"))
    assert result.returncode == USAGE
    assert "only one of python_env, conda_env and docker_env" in result.stderr


def test_version_and_help():
    assert run_proj("--version", check_exit=0).stdout.strip() == f"proj {__version__}"
    help_text = run_proj("--help", check_exit=0).stdout
    for command in ("run", "validate", "info", "runs"):
        assert re.search(rf"^\s+{command}\s", help_text, re.MULTILINE), command


def test_unknown_option_is_exit_125_without_traceback():
    result = run_proj("run", ".", "--no-such-option")
    assert result.returncode == USAGE and "No such option" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback_of_a_user_error(tmp_path):
    result = run_proj("--debug", "run", str(tmp_path / "absent"))
    assert result.returncode == SETUP and "Traceback" in result.stderr and "no such folder" in result.stderr


def test_pre_commit_hook_matches_project_files_and_validates_them(tmp_path):
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "proj-validate")
    pattern = re.compile(hook["files"])
    for name in ("MLproject", "sub/MLproject", "mlproject", "python_env.yaml", "envs/conda.yaml",
                 "environment.yml", "python_env-train.yml"):
        assert pattern.search(name), name
    for name in ("README.md", "MLproject.bak", "train.py", "data.yaml"):
        assert not pattern.search(name), name
    entry = hook["entry"].split()
    assert entry[:2] == ["proj", "validate"]
    bad = DATA / "spec" / "invalid" / "duplicate-keys" / "MLproject"
    assert run_proj(*entry[1:], str(bad)).returncode == 1  # --strict: warnings fail the commit
