"""`proj runs artifacts` and `proj runs logs` as a user runs them: which files a PATH means, where
copies land, `-o -`, and logs streamed in bounded memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import USAGE
from helpers.figures import measured_proj, record_figure

SPEC = """\
name: files
entry_points:
  main:
    command: |
      cd "$PROJ_OUTPUT_DIR"
      mkdir -p sub subway
      echo top > a.txt
      echo other > ab.txt
      echo nested > sub/a.txt
      echo deeper > subway/x.txt
  loud:
    parameters: {megabytes: int}
    command: "head -c {megabytes}000000 /dev/zero | tr '\\\\0' 'y' | fold -w 99"
"""


@pytest.fixture
def run(tmp_path) -> tuple[Path, str]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(SPEC)
    return project, run_id_of(run_proj("run", ".", cwd=project, check_exit=0))


def artifacts(project: Path, *args: str, check_exit: int | None = 0) -> subprocess.CompletedProcess:
    return run_proj("runs", "artifacts", *args, cwd=project, check_exit=check_exit)


def test_a_path_means_that_file_or_that_folder_never_a_prefix(run):
    project, run_id = run
    assert artifacts(project, run_id, "a.txt").stdout.splitlines() == ["a.txt  4 B"]
    assert artifacts(project, run_id, "sub").stdout.splitlines() == ["sub/a.txt  7 B"]
    assert artifacts(project, run_id, "sub/").stdout.splitlines() == ["sub/a.txt  7 B"]
    assert len(artifacts(project, run_id).stdout.splitlines()) == 4
    missing = artifacts(project, run_id, "su", check_exit=USAGE)
    assert f"Run {run_id} has no artifact 'su'" in missing.stderr


def test_copies_keep_folders_and_never_overwrite_one_file_with_another(run, tmp_path):
    project, run_id = run
    artifacts(project, run_id, "a.txt", "-o", str(tmp_path / "one"))
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["a.txt"]
    assert (tmp_path / "one" / "a.txt").read_text() == "top\n"
    artifacts(project, run_id, "-o", str(tmp_path / "all"))
    assert (tmp_path / "all" / "a.txt").read_text() == "top\n"
    assert (tmp_path / "all" / "sub" / "a.txt").read_text() == "nested\n"
    copied = artifacts(project, run_id, "sub", "-o", str(tmp_path / "sub"))
    assert "copied 1 file to" in copied.stdout and (tmp_path / "sub" / "a.txt").read_text() == "nested\n"


def test_dash_writes_one_file_to_stdout(run):
    project, run_id = run
    assert artifacts(project, run_id, "sub/a.txt", "-o", "-").stdout == "nested\n"
    for path in ("sub", None):
        refused = artifacts(project, run_id, *([path] if path else []), "-o", "-", check_exit=USAGE)
        assert "`-o -` writes one file to stdout, so PATH must name one artifact" in refused.stderr
    assert not (project / "-").exists()


def test_copying_into_a_file_is_a_clear_error(run, tmp_path):
    project, run_id = run
    (tmp_path / "taken").write_text("")
    result = artifacts(project, run_id, "-o", str(tmp_path / "taken"), check_exit=USAGE)
    assert "Cannot write" in result.stderr and "Traceback" not in result.stderr


def test_logs_stream_in_bounded_memory(run):
    project, _ = run
    result = run_proj("run", ".", "-e", "loud", "-P", "megabytes=200", cwd=project, check_exit=0)
    run_id = run_id_of(result)
    log = project / ".proj" / "runs" / run_id / "output.log"
    assert log.stat().st_size == 202_020_202  # 200 MB of y, and a newline after every 99
    measured = measured_proj("runs", "logs", run_id, cwd=project)
    assert measured["code"] == 0 and measured["peak_mib"] < 80, measured
    record_figure("runs_logs_200mb", {"peak_rss_mib": round(measured["peak_mib"]),
                                      "seconds": round(measured["seconds"], 1)})
    head = subprocess.run(f"{sys.executable} -m runner runs logs {run_id} | head -c 5", shell=True, cwd=project,
                          capture_output=True, text=True, timeout=60)
    assert head.stdout == "yyyyy" and "Traceback" not in head.stderr and "Broken pipe" not in head.stderr
