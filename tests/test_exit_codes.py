"""The exit-code scheme (docs/exit-codes.md): what a wrapper sees from `proj`.

A run passes its entry point's code through; proj's own outcomes are 124 (a verdict), 125
(refused, nothing ran) and 126 (could not set up), as timeout(1) and env(1) use them.
"""

from __future__ import annotations

import re

import pytest

from conftest import REPO_ROOT, run_id_of, run_proj, show_run
from helpers import exitcodes
from runner.errors import ExitCode

DOC = REPO_ROOT / "docs" / "exit-codes.md"


def test_the_documented_table_the_code_and_the_tests_agree():
    assert (ExitCode.DIFFERS, ExitCode.TIMED_OUT, ExitCode.USAGE, ExitCode.SETUP) == (
        exitcodes.DIFFERS, exitcodes.TIMED_OUT, exitcodes.USAGE, exitcodes.SETUP) == (124, 124, 125, 126)
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| \*\*(\d+)\*\* \| (.*)$", DOC.read_text(), re.MULTILINE)}
    assert set(rows) == {"124", "125", "126"}
    assert "--check" in rows["124"] and "runs wait --timeout" in rows["124"]
    assert "bad usage" in rows["125"] and "nothing ran" in rows["125"]
    assert "could not be built" in rows["126"] and "proj-runner[conda]" in rows["126"]


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "MLproject").write_text(
        "entry_points:\n"
        "  main:\n"
        "    parameters: {code: {type: int, default: 0}}\n"
        "    command: 'exit {code}'\n"
        "  typo:\n"
        "    command: 'no-such-program-anywhere'\n"
    )
    return folder


@pytest.mark.parametrize("code", [1, 2, 3, 123])
def test_the_entry_points_own_code_passes_through_and_is_recorded(project, code):
    result = run_proj("run", ".", "--env-manager", "local", "-P", f"code={code}", cwd=project, check_exit=code)
    record = show_run(run_id_of(result), project)
    assert (record["status"], record["exit_code"]) == ("FAILED", code)


def test_an_entry_point_exiting_2_is_told_apart_from_procs_usage_error(project):
    program = run_proj("run", ".", "--env-manager", "local", "-P", "code=2", cwd=project)
    usage = run_proj("run", ".", "--env-manager", "local", "--no-such-option", cwd=project)
    missing = run_proj("run", "--env-manager", "local", cwd=project)
    assert program.returncode == 2 and "No such option" not in program.stderr
    assert usage.returncode == missing.returncode == exitcodes.USAGE
    assert "No such option: --no-such-option" in usage.stderr and "Missing argument 'URI'" in missing.stderr
    assert "Traceback" not in usage.stderr + missing.stderr


def test_refusals_and_setup_failures_record_nothing(project, tmp_path):
    bad_value = run_proj("run", ".", "--env-manager", "local", "-P", "code=two", cwd=project)
    absent = run_proj("run", str(tmp_path / "absent"), "--env-manager", "local", cwd=project)
    assert bad_value.returncode == exitcodes.USAGE and "expects an int" in bad_value.stderr
    assert absent.returncode == exitcodes.SETUP and "no such folder" in absent.stderr
    listed = run_proj("runs", "list", cwd=project, check_exit=0)
    assert "no runs" in listed.stdout


def test_the_shells_command_not_found_is_the_entry_points_127(project):
    result = run_proj("run", ".", "--env-manager", "local", "-e", "typo", cwd=project, check_exit=127)
    assert show_run(run_id_of(result), project)["status"] == "FAILED"
