"""`proj init`: a project in one command, asked for on a terminal and given by flags in CI,
never over an existing file; the scaffold validates strictly and runs. And `proj validate
--recursive`, which finds the projects below a repository's root."""

from __future__ import annotations

import json
import os
import platform
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE
from helpers.wheels import offline_index_env

PYTHON = ".".join(platform.python_version_tuple()[:2])


def test_flags_make_the_project_without_asking(tmp_path):
    done = run_proj("init", "vision", "--env", "conda", "--python", "3.12", "--name", "Vision", cwd=tmp_path,
                    check_exit=0)
    folder = tmp_path / "vision"
    assert done.stdout.splitlines() == [f"created vision/{name}" for name in
                                        ("MLproject", "conda.yaml", "train.py", ".gitignore")]
    assert "name: Vision\n\nconda_env: conda.yaml\n" in (folder / "MLproject").read_text()
    assert "  - python=3.12\n" in (folder / "conda.yaml").read_text()
    assert (folder / ".gitignore").read_text().splitlines()[-1] == ".proj/"
    assert "next: cd vision && proj validate --strict" in done.stderr
    checked = run_proj("validate", "--strict", "--format", "json", "vision", cwd=tmp_path, check_exit=0)
    assert json.loads(checked.stdout)["problems"] == []


def test_without_a_terminal_the_defaults_are_taken(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    run_proj("init", cwd=folder, check_exit=0)
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "MLproject", "python_env.yaml", "train.py"]
    assert (folder / "MLproject").read_text().startswith("name: my-model\n\npython_env: python_env.yaml\n")
    assert f'python: "{PYTHON}"' in (folder / "python_env.yaml").read_text()
    info = json.loads(run_proj("info", "--format", "json", cwd=folder, check_exit=0).stdout)
    assert list(info["entry_points"]) == ["main"]
    parameters = info["entry_points"]["main"]["parameters"]
    assert {p["name"]: (p["type"], p["default"]) for p in parameters} == {"alpha": ("float", 0.5),
                                                                          "epochs": ("int", 10)}


def test_a_name_yaml_would_misread_is_quoted(tmp_path):
    run_proj("init", "--name", "yes", cwd=tmp_path, check_exit=0)
    assert (tmp_path / "MLproject").read_text().startswith('name: "yes"\n')
    info = json.loads(run_proj("info", "--format", "json", cwd=tmp_path, check_exit=0).stdout)
    assert info["name"] == "yes"


def test_it_never_overwrites_and_writes_nothing_when_a_file_is_there(tmp_path):
    (tmp_path / "train.py").write_text("mine\n")
    (tmp_path / ".gitignore").write_text("*.pyc")
    done = run_proj("init", "--yes", cwd=tmp_path, check_exit=USAGE)
    assert "already has train.py: proj init never overwrites a file" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "train.py"]
    assert (tmp_path / "train.py").read_text() == "mine\n" and (tmp_path / ".gitignore").read_text() == "*.pyc"
    (tmp_path / "train.py").unlink()
    done = run_proj("init", "--yes", cwd=tmp_path, check_exit=0)
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.proj/\n" and "added .proj/ in" in done.stdout
    again = run_proj("init", "--yes", cwd=tmp_path, check_exit=USAGE)
    assert "already has MLproject, python_env.yaml, train.py" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--python", "three"], "Invalid Python version 'three'"),
    (["--env", "docker"], "'docker' is not one of 'python', 'conda'"),
    (["--name", " "], "Invalid project name ' '"),
])
def test_bad_flags_are_refused(tmp_path, args, message):
    done = run_proj("init", *args, cwd=tmp_path, check_exit=USAGE)
    assert message in done.stderr and list(tmp_path.iterdir()) == []


def test_on_a_terminal_it_asks_for_what_no_flag_gives(tmp_path):
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "runner", "init", "asked", "--python", "3.10"], cwd=tmp_path,
                               stdin=follower, stdout=follower, stderr=follower, env={**os.environ, "TERM": "dumb"})
    os.close(follower)
    seen = b""
    for prompt, answer in ((b"Project name [asked]:", b"Asked Project\n"), (b"[python]:", b"docker\n"),
                           (b"'docker' is not one of 'python', 'conda'", b"conda\n")):
        deadline = time.monotonic() + 60
        while prompt not in seen and time.monotonic() < deadline:
            seen += os.read(leader, 4096)
        os.write(leader, answer)
    assert process.wait(timeout=60) == 0
    os.close(leader)
    assert b"Python version" not in seen  # given as a flag
    text = (tmp_path / "asked" / "MLproject").read_text()
    assert text.startswith('name: "Asked Project"\n\nconda_env: conda.yaml\n')
    assert "python=3.10" in (tmp_path / "asked" / "conda.yaml").read_text()


@pytest.mark.uv
def test_the_scaffold_runs_and_records_its_metric(tmp_path):
    project = tmp_path / "project"
    run_proj("init", "--yes", "project", cwd=tmp_path, check_exit=0)
    env = offline_index_env(tmp_path / "no-wheels", tmp_path / "uv-config")  # nothing to download
    (tmp_path / "no-wheels").mkdir()
    done = run_proj("run", ".", "-P", "alpha=0.3", "-P", "epochs=4", cwd=project, env=env, timeout=600,
                    check_exit=0)
    assert "loss after 4 epochs: 0.8853" in done.stdout  # (1 - 0.3 / 10) ** 4
    view = show_run(run_id_of(done), project)
    assert view["environment"]["kind"] == "virtualenv" and view["status"] == "FINISHED"
    assert view["metrics"]["loss"]["count"] == 4 and view["metrics"]["loss"]["last_step"] == 3
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                               capture_output=True, text=True, check=True).stdout.split()
    assert sorted(untracked[1::2]) == [".gitignore", "MLproject", "python_env.yaml", "train.py"]  # not .proj/


# --- proj validate --recursive ---------------------------------------------------------------------


@pytest.fixture
def repository(tmp_path) -> Path:
    """A repository root with no MLproject of its own: projects below it, and places to skip."""
    root = tmp_path / "repo"
    for folder in ("models/a", "models/b/inner", "tools", ".git/hooks", "env/lib"):
        (root / folder).mkdir(parents=True)
    good = "name: ok\nentry_points:\n  main:\n    command: \"echo hi\"\n"
    (root / "models/a/MLproject").write_text(good)
    (root / "models/b/inner/MLproject").write_text("name: bad\nentry_points:\n  main:\n    command: \"echo {x}\"\n")
    (root / ".git/hooks/MLproject").write_text("not: [valid")  # hidden folders are skipped
    (root / "env/pyvenv.cfg").write_text("home = /usr\n")  # virtual environments too
    (root / "env/lib/MLproject").write_text("not: [valid")
    return root


def test_validate_at_a_repository_root_points_at_the_projects_below(repository):
    done = run_proj("validate", cwd=repository, check_exit=1)
    assert ".: invalid (1 error, 0 warnings)" in done.stderr
    assert "2 projects below .; check them with: proj validate --recursive ." in done.stderr


def test_validate_recursive_checks_every_project_below(repository):
    done = run_proj("validate", "--recursive", cwd=repository, check_exit=1)
    assert "models/b/inner/MLproject" in done.stdout and "placeholder '{x}' names no parameter" in done.stdout
    assert ".git" not in done.stdout + done.stderr and "env/lib" not in done.stdout + done.stderr
    assert "2 projects in .: invalid (1 error, 0 warnings)" in done.stderr
    report = json.loads(run_proj("validate", "-r", "--format", "json", cwd=repository, check_exit=1).stdout)
    assert report["checked"] == ["models/a", "models/b/inner"]
    fine = run_proj("validate", "-r", "--strict", "models/a", "tools", cwd=repository, check_exit=1)
    assert "tools:0:0: error: no MLproject file in or below this folder" in fine.stdout
    assert "1 project in models/a, tools" in fine.stderr
