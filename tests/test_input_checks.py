"""Input that used to pass validation and then fail, run something else, or take minutes.

Placeholders with conversions or format specs, oversized MLproject files, thousands of entry
points, URLs Python cannot take apart, environment files and scripts outside the project, and
entry point names that an interpreter reads as options: each is refused before anything runs,
with exit 2 (1 from `proj validate`), a positioned or specific message, and no traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import run_proj
from helpers.exitcodes import USAGE
from helpers.figures import record_figure

MARKER = "ran.txt"
PYTHON_ENV_SPEC = "python_env: python_env.yaml\nentry_points:\n  main:\n    command: touch ran.txt\n"


def project_with(tmp_path: Path, spec: str, **files: str) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(spec)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def refused(result, *, exit_code: int = USAGE) -> None:
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("placeholder, column, message", [
    ("{p!r}", 35, "placeholder '{p!r}' uses the conversion '!r', which would undo the shell quoting of the value"),
    ("{p!a}", 35, "placeholder '{p!a}' uses the conversion '!a'"),
    ("{p:>2000000000}", 35, "placeholder '{p:>2000000000}' uses the format spec ':>2000000000'"),
    ("{p:d}", 35, "placeholder '{p:d}' uses the format spec ':d'"),
])
def test_conversions_and_format_specs_are_refused_by_validate_and_run(tmp_path, placeholder, column, message):
    spec = ("entry_points:\n  main:\n    parameters: {p: {type: string, default: x}}\n"
            f'    command: "touch {MARKER}; echo {placeholder}"\n')
    project = project_with(tmp_path, spec)
    validated = run_proj("validate", cwd=project)
    refused(validated, exit_code=1)
    assert f"MLproject:4:{column}: error: entry_points.main.command: {message}" in validated.stdout
    ran = run_proj("run", ".", "-P", "p=$(touch pwned)", cwd=project)
    refused(ran)
    assert message in ran.stderr
    assert not (project / MARKER).exists() and not (project / "pwned").exists()


def test_an_oversized_mlproject_is_refused_before_it_is_parsed(tmp_path):
    filler = "# " + "x" * 98 + "\n"
    spec = "entry_points:\n  main:\n    command: touch ran.txt\n" + filler * 500_000  # 50 MB
    project = project_with(tmp_path, spec)
    started = time.monotonic()
    validated = run_proj("validate", cwd=project)
    ran = run_proj("run", ".", cwd=project)
    seconds = time.monotonic() - started
    assert seconds < 30
    record_figure("oversized_mlproject", {"bytes": len(spec), "validate_and_run_seconds": round(seconds, 1)})
    refused(validated, exit_code=1)
    refused(ran)
    message = ("file is larger than 262144 bytes, the limit on the size of an MLproject or environment file; "
               "make it smaller (or raise PROJ_MAX_SPEC_BYTES)")
    assert message in validated.stdout and message in ran.stderr
    assert not (project / MARKER).exists()


def test_the_spec_size_limit_can_be_raised(tmp_path):
    spec = "entry_points:\n  main:\n    command: touch ran.txt\n" + "# comment\n" * 30_000  # 300 KB
    project = project_with(tmp_path, spec)
    refused(run_proj("run", ".", cwd=project))
    run_proj("run", ".", cwd=project, env={"PROJ_MAX_SPEC_BYTES": "512K"}, check_exit=0)
    assert (project / MARKER).exists()


def test_an_oversized_environment_file_is_refused(tmp_path):
    project = project_with(tmp_path, PYTHON_ENV_SPEC,
                           **{"python_env.yaml": "dependencies: []\n" + "# x\n" * 100_000})
    validated = run_proj("validate", cwd=project)
    refused(validated, exit_code=1)
    assert "python_env.yaml:0:0: error: file is larger than 262144 bytes" in validated.stdout


def test_a_missing_entry_point_names_a_few_of_thousands(tmp_path):
    spec = "entry_points:\n" + "".join(f"  ep{i:04d}:\n    command: echo {i}\n" for i in range(3000))
    project = project_with(tmp_path, spec)
    result = run_proj("run", ".", "-e", "ep30000", cwd=project)
    refused(result)
    assert "Could not find 'ep30000' among entry points ['ep0000', 'ep0001'," in result.stderr
    assert "'ep0019', ... and 2980 more] or interpret 'ep30000' as a runnable script" in result.stderr
    assert len(result.stderr) < 1000


@pytest.mark.parametrize("uri, reason", [
    ("ssh://[-oProxyCommand=touch pwned]/x", "does not appear to be an IPv4 or IPv6 address"),
    ("https://[::1/x", "Invalid IPv6 URL"),
    ("https://example.org:99999/x.git", "Port out of range"),
])
def test_urls_python_cannot_take_apart_are_usage_errors(tmp_path, uri, reason):
    result = run_proj("run", uri, cwd=tmp_path)
    refused(result)
    assert "it is not a valid URL (" in result.stderr and reason in result.stderr
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("key, value", [
    ("python_env", "../outside.yaml"),
    ("python_env", "/etc/passwd"),
    ("conda_env", "../outside.yaml"),
    ("conda_env", "link.yaml"),  # a symlink to the file outside
])
def test_environment_files_outside_the_project_are_refused_unread(tmp_path, key, value):
    (tmp_path / "outside.yaml").write_text("dependencies: [SECRET-LINE]\nnot: [valid\n")
    project = project_with(tmp_path, f"{key}: {value}\nentry_points:\n  main:\n    command: touch ran.txt\n")
    (project / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    validated = run_proj("validate", cwd=project)
    refused(validated, exit_code=1)
    assert f"error: {key}: '{value}' is outside the project folder; an environment file must be part of the project" \
        in validated.stdout
    ran = run_proj("run", ".", cwd=project)
    refused(ran)
    for text in (validated.stdout, ran.stderr):
        assert "SECRET-LINE" not in text and "root:" not in text
    assert not (project / MARKER).exists()


def test_requirement_files_outside_the_project_are_refused(tmp_path):
    (tmp_path / "outside.txt").write_text("SECRET-LINE\n")
    project = project_with(tmp_path, PYTHON_ENV_SPEC,
                           **{"python_env.yaml": "dependencies:\n  - -r ../outside.txt\n"})
    validated = run_proj("validate", cwd=project)
    refused(validated, exit_code=1)
    assert "dependencies[0]: requirements file '../outside.txt' is outside the project folder" in validated.stdout


@pytest.mark.parametrize("name, message", [
    ("-c.py", "Entry point '-c.py' starts with '-', which the interpreter would read as an option"),
    ("--help.sh", "Entry point '--help.sh' starts with '-'"),
    ("../outside.sh", "Entry point '../outside.sh' is outside the project folder"),
    ("link.sh", "Entry point 'link.sh' is outside the project folder"),
])
def test_script_entry_points_outside_the_project_or_like_options_are_refused(tmp_path, name, message):
    (tmp_path / "outside.sh").write_text("touch pwned\n")
    project = project_with(tmp_path, "entry_points: {}\n", **{"-c.py": "open('pwned', 'w')\n",
                                                              "--help.sh": "touch pwned\n"})
    (project / "link.sh").symlink_to(tmp_path / "outside.sh")
    result = run_proj("run", ".", "-e", name, cwd=project)
    refused(result)
    assert message in result.stderr
    assert not (project / "pwned").exists() and not (tmp_path / "pwned").exists()
    assert not (project / ".proj").exists()


def test_a_script_named_like_an_option_runs_when_written_as_a_path(tmp_path):
    project = project_with(tmp_path, "entry_points: {}\n", **{"-c.py": f"open('{MARKER}', 'w')\n"})
    run_proj("run", ".", "-e", "./-c.py", cwd=project, check_exit=0)
    assert (project / MARKER).exists()
