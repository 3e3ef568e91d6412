"""What proj looks like in a terminal: colour for statuses, warnings and errors on a TTY only
(NO_COLOR, --color and PROJ_COLOR decide otherwise), and recorded text that stays inert."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE

SPEC = """\
name: colours
entry_points:
  main:
    parameters:
      code: {type: int, default: 0}
    # Arguments after the code (undeclared -P values are appended) are ignored.
    command: "python3 -c 'import sys; sys.exit(int(sys.argv[1]))' {code}"
"""
ESC = "\x1b["


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "colours"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder


def run_on_tty(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`proj ARGS` with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, env={**os.environ, "TERM": "xterm", **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: everything was read
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode()


def test_a_terminal_shows_statuses_warnings_and_errors_in_colour(project):
    code, shown = run_on_tty("run", ".", "-P", "code=3", cwd=project)
    assert code == 3
    assert f"{ESC}31mFAILED{ESC}0m (exit code 3)" in shown  # the run's end, in red
    code, shown = run_on_tty("run", ".", "-P", "code=x", cwd=project)
    assert code == USAGE and f"{ESC}31m{ESC}1mproj: error: {ESC}0m" in shown
    code, shown = run_on_tty("run", ".", "-P", "cod=1", cwd=project)
    assert code == 0 and f"{ESC}33mproj: warning: {ESC}0m" in shown and f"{ESC}32mFINISHED{ESC}0m" in shown


@pytest.mark.parametrize("env, args", [
    ({"NO_COLOR": "1"}, ()),
    ({"PROJ_COLOR": "never"}, ()),
    ({}, ("--color", "never")),
    ({"TERM": "dumb"}, ()),
])
def test_no_colour_when_asked_not_to(project, env, args):
    code, shown = run_on_tty(*args, "run", ".", "-P", "code=3", cwd=project, env=env)
    assert code == 3 and "FAILED (exit code 3)" in shown and ESC not in shown


def test_pipes_get_no_colour_unless_forced(project):
    plain = run_proj("run", ".", "-P", "cod=1", cwd=project, check_exit=0)
    assert ESC not in plain.stderr + plain.stdout
    forced = run_proj("--color", "always", "run", ".", "-P", "cod=1", cwd=project, env={"NO_COLOR": "1"},
                      check_exit=0)  # the option beats the variable
    assert f"{ESC}33mproj: warning: " in forced.stderr and f"{ESC}32mFINISHED{ESC}0m" in forced.stderr
    listed = run_proj("--color", "always", "runs", "list", cwd=project, check_exit=0)
    assert f"{ESC}32mFINISHED{ESC}0m" in listed.stdout


def test_recorded_text_stays_inert_in_colour(project):
    done = run_proj("run", ".", "--run-name", "evil\x1b]0;owned\x07", cwd=project, check_exit=0)
    code, shown = run_on_tty("runs", "show", run_id_of(done), cwd=project)
    assert code == 0 and "evil\\x1b]0;owned\\x07" in shown and "\x1b]0;" not in shown
    assert f"{ESC}32mFINISHED{ESC}0m (exit code 0)" in shown


def test_bad_color_values_list_the_choices(project):
    done = run_proj("--color", "sometimes", "runs", "list", cwd=project, check_exit=USAGE)
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in done.stderr


# --- words and leftovers ---------------------------------------------------------------------------


@pytest.mark.uv
def test_a_failed_frozen_run_leaves_no_store_behind(tmp_path):
    run_proj("init", "--yes", cwd=tmp_path, check_exit=0)
    done = run_proj("run", ".", "--frozen", cwd=tmp_path, check_exit=SETUP)
    assert "--frozen: there is no lock to install for python_env.yaml" in done.stderr
    assert not (tmp_path / ".proj").exists()
    listed = run_proj("runs", "list", cwd=tmp_path, check_exit=0)
    assert "no runs" in listed.stdout + listed.stderr and not (tmp_path / ".proj").exists()


def test_a_run_without_an_exit_code_never_shows_none(project):
    (project / "MLproject").write_text(SPEC + "  wait:\n    command: \"while [ ! -e release ]; do sleep 0.05; done\"\n")
    proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "wait"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        from helpers.processes import wait_for

        def running() -> str | None:
            listed = run_proj("runs", "list", "--format", "json", cwd=project).stdout
            runs = json.loads(listed) if listed.strip().startswith("[") else []
            return runs[0]["run_id"] if runs else None

        run_id = wait_for(running, timeout=30, what="the run to be recorded")
        shown = run_proj("runs", "show", run_id, cwd=project, check_exit=0).stdout
        assert "status       RUNNING\n" in shown and "None" not in shown
    finally:
        (project / "release").write_text("")
        proj.communicate(timeout=30)
    assert "FINISHED (exit code 0)" in run_proj("runs", "show", run_id, cwd=project, check_exit=0).stdout
