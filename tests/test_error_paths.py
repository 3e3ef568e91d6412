"""Error paths that used to lose a run (issue 18), through the CLI as a user meets them.

A disk that fills while the run writes, a store removed under a running run, proj's own stdout
or stderr full or closed, a command too long (or holding a NUL byte) to start, a command that
cannot start at all, a log the run takes away, input files that cannot be kept. Each test checks
the exit code, the message, that the record is complete (status, exit code, end time, log) or
absent, and that nothing is left behind (processes, reserved space, run folders).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.filesystems import fill, free_bytes, mounted
from helpers.gitrepo import GitRepo
from helpers.processes import processes_of_run

SPEC = """\
name: errorpaths
entry_points:
  main:
    parameters:
      word: {type: string, default: hello}
    command: "echo ran {word}"
  fill:
    parameters:
      code: {type: int, default: 0}
      take_reserve: {type: string, default: "no"}
    command: |
      echo before
      until grep -q before "$PROJ_OUTPUT_DIR/../output.log"; do sleep 0.05; done  # logged before the disk fills
      echo '{{"key": "loss", "value": 0.5, "step": 1}}' > "$PROJ_OUTPUT_DIR/metrics.jsonl"
      if [ {take_reserve} = yes ]; then rm -r "$PROJ_OUTPUT_DIR/../../../reserved"; fi
      cat /dev/zero > "$PROJ_OUTPUT_DIR/ballast" 2>/dev/null
      head -c 20000 /dev/zero | tr '\\0' x
      echo
      echo after
      exit {code}
  remove_store:
    command: 'echo ran; rm -rf "$(cd "$PROJ_OUTPUT_DIR/../../.." && pwd)"'
  take_log:
    parameters: {how: string}
    command: 'echo ran; cd "$PROJ_OUTPUT_DIR/.."; eval {how}; echo after'
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder


def shown(run_id: str, store: Path) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", "--tracking-uri", str(store),
                               check_exit=0).stdout)


def statuses(store: Path) -> list[tuple[str, int | None]]:
    listed = run_proj("runs", "list", "--format", "json", "--tracking-uri", str(store), check_exit=0).stdout
    return [(run["status"], run["exit_code"]) for run in json.loads(listed)]


def left_reserved(store: Path) -> list[str]:
    folder = store / "reserved"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- a full disk ------------------------------------------------------------------------------


@pytest.mark.parametrize("code, status", [(0, "FINISHED"), (3, "FAILED")])
def test_a_run_that_fills_the_disk_is_recorded_whole(project, tmp_path, code, status):
    """It used to end with `database or disk is full`, `cannot rollback` and a run left RUNNING."""
    with mounted("tmpfs", tmp_path / "disk", size="4m") as disk:
        store = disk / "store"
        result = run_proj("run", ".", "-e", "fill", "-P", f"code={code}", "--tracking-uri", str(store), cwd=project)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr and "after" in result.stdout  # the terminal got it all
        assert "warning: the run's log is incomplete: writing it failed (No space left on device)" in result.stderr
        run_id = run_id_of(result)
        view = shown(run_id, store)
        assert (view["status"], view["exit_code"]) == (status, code) and view["end_time"]
        assert view["metrics"]["loss"]["last"] == 0.5  # the end-of-run summary found room too
        log = (store / "runs" / run_id / "output.log").read_bytes()
        assert log.startswith(b"before\nxxxx")  # as far as the disk allowed
        assert left_reserved(store) == [] and processes_of_run(run_id) == []
        (store / "runs" / run_id / "outputs" / "ballast").unlink()
        run_proj("run", ".", "--tracking-uri", str(store), cwd=project, check_exit=0)
        assert statuses(store) == [("FINISHED", 0), (status, code)]


def test_a_run_that_also_takes_the_reserved_room_says_its_end_was_not_recorded(project, tmp_path):
    with mounted("tmpfs", tmp_path / "disk", size="4m") as disk:
        store = disk / "store"
        result = run_proj("run", ".", "-e", "fill", "-P", "take_reserve=yes", "--tracking-uri", str(store),
                          cwd=project)
        run_id = run_id_of(result)
        assert result.returncode == SETUP and "Traceback" not in result.stderr
        assert (f"error: Run {run_id} ended FINISHED (exit code 0), but its end could not be recorded: Cannot "
                f"write to the tracking store {store}: the disk it is on is full") in result.stderr
        assert "hint: free some space there; then `proj runs refresh` records the run LOST" in result.stderr
        assert processes_of_run(run_id) == []
        (store / "runs" / run_id / "outputs" / "ballast").unlink()
        run_proj("runs", "refresh", "--tracking-uri", str(store), check_exit=0)
        assert statuses(store) == [("LOST", None)]


def test_inputs_that_do_not_fit_leave_no_run_behind(tmp_path):
    """A dirty checkout's diff larger than the room left: the run is taken back, nothing ran."""
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": SPEC, "data.txt": "small\n"})
    with mounted("tmpfs", tmp_path / "disk", size="8m") as disk:
        store = disk / "store"
        run_proj("run", ".", "--tracking-uri", str(store), cwd=repo.path, check_exit=0)
        (repo.path / "data.txt").write_text("changed line\n" * 300_000)  # a 3.9 MB diff
        fill(disk / "ballast", leave=2 * 1024 * 1024)  # room for a run's reserve, not for its diff
        result = run_proj("run", ".", "-P", "word=never", "--tracking-uri", str(store), cwd=repo.path)
        assert result.returncode == SETUP and "Traceback" not in result.stderr
        assert "Cannot save diff.patch with run" in result.stderr and "No space left on device" in result.stderr
        assert "ran never" not in result.stdout
        assert statuses(store) == [("FINISHED", 0)]
        assert len(list((store / "runs").iterdir())) == 1 and left_reserved(store) == []
        assert free_bytes(disk) >= 2 * 1024 * 1024 - 64 * 1024  # no half-written file kept either


# --- the store removed under a running run ----------------------------------------------------


def test_a_store_removed_during_the_run_is_reported_and_not_made_again(project, tmp_path):
    """It used to report the run FINISHED and recorded, into a database that no longer existed."""
    store = tmp_path / "store"
    result = run_proj("run", ".", "-e", "remove_store", "--tracking-uri", str(store), cwd=project)
    run_id = run_id_of(result)
    assert result.returncode == SETUP and "Traceback" not in result.stderr
    assert (f"error: Run {run_id} ended FINISHED (exit code 0), but its end could not be recorded: The tracking "
            f"store's database {store / 'proj.db'} was removed while proj was using it") in result.stderr
    assert "hint: a store must not be removed or moved while runs use it" in result.stderr
    assert not store.exists()  # not silently made again, empty
    assert processes_of_run(run_id) == []


# --- proj's own stdout and stderr -------------------------------------------------------------


def run_redirected(redirection: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """proj with its standard streams set up by a shell (`>/dev/full`, `2>&-`, ...)."""
    command = " ".join([sys.executable, "-m", "runner", *args]) + " " + redirection
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("redirection", [">/dev/full", "2>/dev/full", ">&-", "2>&-", "<&- >&- 2>&-"])
def test_proj_run_with_stdout_or_stderr_full_or_closed_records_the_run(project, tmp_path, redirection):
    """stdout on /dev/full used to end the run FAILED with a traceback; stderr full or closed
    left it RUNNING (then LOST); a closed stdout crashed before the run."""
    store = tmp_path / "store"
    result = run_redirected(redirection, "run", ".", "--tracking-uri", str(store), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if redirection == ">/dev/full":
        assert ("warning: the command's output could not all be written to stdout (No space left on device); "
                "its log has all of it: proj runs logs") in result.stderr
    (run,) = json.loads(run_proj("runs", "list", "--format", "json", "--tracking-uri", str(store),
                                 check_exit=0).stdout)
    assert (run["status"], run["exit_code"]) == ("FINISHED", 0) and run["end_time"]
    assert (store / "runs" / run["run_id"] / "output.log").read_text() == "ran hello\n"
    assert left_reserved(store) == [] and processes_of_run(run["run_id"]) == []


@pytest.mark.parametrize("command", [["runs", "list"], ["runs", "show", "RUN"], ["runs", "logs", "RUN"],
                                     ["runs", "list", "--format", "json"], ["--help"]])
def test_results_that_cannot_be_written_are_an_error_not_a_traceback(project, tmp_path, command):
    store = tmp_path / "store"
    run_id = run_id_of(run_proj("run", ".", "--tracking-uri", str(store), cwd=project, check_exit=0))
    args = [run_id if word == "RUN" else word for word in command]
    if command != ["--help"]:
        args += ["--tracking-uri", str(store)]
    full = run_redirected(">/dev/full", *args, cwd=project)
    assert full.returncode == SETUP, full.stderr
    assert full.stderr.startswith("proj: error: Cannot write to standard output: No space left on device")
    assert "Traceback" not in full.stderr and "Exception ignored" not in full.stderr
    closed = run_redirected(">&-", *args, cwd=project)  # nothing to show it to: not an error
    assert closed.returncode == 0 and closed.stderr == ""


def test_a_closed_stdout_never_lends_its_number_to_the_store(project, tmp_path):
    """With descriptor 1 closed, the next file opened would take its number, and proj's results
    would be written into it: the database stays a database."""
    store = tmp_path / "store"
    run_redirected(">&-", "run", ".", "--tracking-uri", str(store), cwd=project)
    run_redirected(">&-", "runs", "list", "--tracking-uri", str(store), cwd=project)
    assert (store / "proj.db").read_bytes().startswith(b"SQLite format 3\0")
    assert statuses(store) == [("FINISHED", 0)]


# --- commands that cannot be started ----------------------------------------------------------


def test_a_command_too_long_to_start_is_refused_before_anything_is_recorded(project, tmp_path):
    """Used to start a run, fail with `Argument list too long` and keep a FAILED (exit None) record."""
    store = tmp_path / "store"
    values = [f"{name}={'v' * 60_000}" for name in ("a", "b", "c")]  # each fits proj's own arguments
    result = run_proj("run", ".", *[x for value in values for x in ("-P", value)], "--tracking-uri", str(store),
                      cwd=project)
    assert result.returncode == USAGE and "Traceback" not in result.stderr
    assert "error: The command is 180" in result.stderr
    assert "a program can receive at most 131071 bytes as one argument, so it could not be started" in result.stderr
    assert "hint: the largest value is 'a' (60000 characters): pass large values in a file" in result.stderr
    assert len(result.stderr) < 2000 and not store.exists()


def test_a_nul_byte_in_a_value_is_refused_where_it_is_written(project, tmp_path):
    """A NUL byte reaches proj from the Python API, a run card or YAML (`"a\\0b"`), never from
    the command line; no program can receive one."""
    store = tmp_path / "store"
    api = subprocess.run([sys.executable, "-c", (
        "import runner\n"
        "try:\n"
        f"    runner.run('.', parameters={{'word': 'a\\x00b'}}, tracking_uri={str(store)!r})\n"
        "except runner.ProjError as err:\n"
        "    print(type(err).__name__, err)\n")], cwd=project, capture_output=True, text=True, timeout=120)
    assert api.stdout.startswith("ParameterError Parameter 'word' expects a value without NUL bytes"), api.stderr
    assert not store.exists()
    (project / "MLproject").write_text(SPEC + '  nul:\n    parameters:\n      word: {default: "a\\0b"}\n'
                                       '    command: "echo {word}"\n')
    line = SPEC.count("\n") + 3
    checked = run_proj("validate", ".", cwd=project)
    said = checked.stdout + checked.stderr
    assert checked.returncode == 1
    assert f"MLproject:{line}:" in said and "default 'a\\x00b' is not a value without NUL bytes" in said
    result = run_proj("run", ".", "-e", "nul", "--tracking-uri", str(store), cwd=project)
    assert result.returncode == USAGE and "Traceback" not in result.stderr and not store.exists()
    assert "is not a value without NUL bytes" in result.stderr


def test_a_command_that_cannot_start_is_recorded_with_the_shells_code_and_why(project, tmp_path):
    """No bash on PATH: the run ends FAILED with 127 (as a shell says for a missing program) and
    the reason in its log; before, the record kept no exit code and no word of why."""
    store = tmp_path / "store"
    result = run_proj("run", ".", "--tracking-uri", str(store), cwd=project, env={"PATH": str(tmp_path)})
    assert result.returncode == SETUP and "Traceback" not in result.stderr
    assert "error: Could not start the command: cannot run bash: No such file or directory" in result.stderr
    run_id = run_id_of(result)
    view = shown(run_id, store)
    assert (view["status"], view["exit_code"]) == ("FAILED", 127) and view["end_time"]
    log = (store / "runs" / run_id / "output.log").read_text()
    assert log == "proj: error: Could not start the command: cannot run bash: No such file or directory\n"
    assert left_reserved(store) == []


# --- a log the run takes away -----------------------------------------------------------------


@pytest.mark.parametrize("how, damage", [
    ("rm output.log; mkfifo output.log", "replaced its log {log} with a FIFO"),
    ("rm output.log; ln -s {secret} output.log", "replaced its log {log} with a symbolic link"),
    ("rm output.log; mkdir -p output.log/deeper", "replaced its log {log} with a folder"),
    ("mv output.log moved.log", "removed its log {log}"),
    ('rm -rf "$PWD"', "removed or replaced its own folder {folder} (its outputs are lost)"),
    ('d="$PWD"; cd ..; rm -rf "$d"; ln -s {outside} "$d"',
     "removed or replaced its own folder {folder} (its outputs are lost)"),
])
def test_a_log_the_run_takes_away_is_put_back(project, tmp_path, how, damage):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("SECRET\n")
    result = run_proj("run", ".", "-e", "take_log", "-P", f"how={how.format(secret=secret, outside=outside)}",
                      cwd=project, timeout=60, check_exit=0)
    run_id = run_id_of(result)
    folder = project / ".proj" / "runs" / run_id
    log = folder / "output.log"
    expected = damage.format(log=log, folder=folder)
    assert f"warning: run {run_id}: the run {expected}; proj put back the log it kept (10 bytes)" in result.stderr
    assert stat.S_ISDIR(os.lstat(folder).st_mode) and stat.S_ISREG(os.lstat(log).st_mode)
    assert log.read_text() == "ran\nafter\n"
    assert run_proj("runs", "logs", run_id, cwd=project, check_exit=0).stdout == "ran\nafter\n"
    view = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)
    assert (view["status"], view["exit_code"]) == ("FINISHED", 0)
    assert secret.read_text() == "SECRET\n" and sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert processes_of_run(run_id) == []
