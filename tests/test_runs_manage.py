"""Run management through the `proj` command: tags (proj run --tag, proj runs tag), names and
descriptions, delete and restore (never a RUNNING run), and proj gc with its sizes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE
from helpers.processes import wait_for, wait_for_file
from runner.runview import size

SPEC = """\
name: managed
entry_points:
  main:
    parameters: {alpha: {type: float, default: 0.5}}
    command: "echo alpha={alpha}; echo '{{\\"key\\": \\"loss\\", \\"value\\": {alpha}}}'
              > $PROJ_OUTPUT_DIR/metrics.jsonl"
  hang:
    command: "echo $$ > started.txt; sleep 300"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder


def _run(project: Path, *args: str) -> str:
    return run_id_of(run_proj("run", ".", *args, cwd=project, check_exit=0))


def _ids(project: Path, *args: str) -> list[str]:
    listed = run_proj("runs", "list", "--format", "json", *args, cwd=project, check_exit=0)
    return [r["run_id"] for r in json.loads(listed.stdout)]


def test_a_run_gets_tags_and_a_description(project: Path) -> None:
    run_id = _run(project, "--tag", "team=vision", "-t", "stage=first try", "--description", "the baseline")
    record = show_run(run_id, project)
    assert (record["tags"], record["description"]) == ({"team": "vision", "stage": "first try"}, "the baseline")
    text = run_proj("runs", "show", run_id, cwd=project, check_exit=0).stdout
    assert "description  the baseline" in text and "tags         team=vision stage=first try" in text


@pytest.mark.parametrize(("tag", "message"), [
    ("team", "Invalid tag 'team': expected KEY=VALUE"),
    ("mlflow.note=x", "Tag names starting with mlflow. or proj. are reserved ('mlflow.note')"),
    ("proj.x=1", "are reserved ('proj.x')"),
    ("a|b=1", "Invalid tag name 'a|b'"),
    ("=1", "Invalid tag name ''"),
])
def test_bad_tags_stop_the_run_before_it_starts(project: Path, tag: str, message: str) -> None:
    done = run_proj("run", ".", "--tag", tag, cwd=project, check_exit=USAGE)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (project / ".proj").exists() and "alpha=" not in done.stdout


def test_tags_are_set_and_removed(project: Path) -> None:
    run_id = _run(project, "--tag", "team=vision", "--tag", "draft=yes")
    done = run_proj("runs", "tag", run_id[:8], "team=nlp", "stage=try", "--remove", "draft", cwd=project,
                    check_exit=0)
    assert done.stdout.strip() == f"run {run_id} tags: team=nlp stage=try"
    assert show_run(run_id, project)["tags"] == {"team": "nlp", "stage": "try"}
    assert _ids(project, "--filter", "tags.team = 'nlp' and tags.draft IS NULL") == [run_id]
    again = run_proj("runs", "tag", run_id, "team=nlp", cwd=project, check_exit=0)
    assert "nothing changed" in again.stderr
    missing = run_proj("runs", "tag", run_id, "-r", "colour", cwd=project, check_exit=USAGE)
    assert f"Run {run_id} has no tag 'colour' to remove" in missing.stderr and "its tags: stage, team" in missing.stderr
    assert "Give tags to set" in run_proj("runs", "tag", run_id, cwd=project, check_exit=USAGE).stderr
    assert "is both set and removed" in run_proj("runs", "tag", run_id, "a=1", "-r", "a", cwd=project,
                                                 check_exit=USAGE).stderr
    assert "No run 'abcdef'" in run_proj("runs", "tag", "abcdef", "a=1", cwd=project, check_exit=USAGE).stderr


def test_runs_are_renamed_and_described(project: Path) -> None:
    run_id = _run(project, "--run-name", "first")
    done = run_proj("runs", "rename", run_id, "baseline", "-d", "before the fix", cwd=project, check_exit=0)
    assert done.stdout.strip() == f"run {run_id} is named 'baseline', described as 'before the fix'"
    assert (show_run(run_id, project)["run_name"], show_run(run_id, project)["description"]) == (
        "baseline", "before the fix")
    run_proj("runs", "rename", run_id, "--description", "", cwd=project, check_exit=0)
    assert show_run(run_id, project)["description"] == "" and show_run(run_id, project)["run_name"] == "baseline"
    assert "Give a new name, a --description, or both" in run_proj("runs", "rename", run_id, cwd=project,
                                                                   check_exit=USAGE).stderr
    assert "A run name must not be empty" in run_proj("runs", "rename", run_id, " ", cwd=project,
                                                      check_exit=USAGE).stderr
    assert _ids(project, "--filter", "run_name = 'baseline'") == [run_id]


def test_deleted_runs_are_hidden_until_restored(project: Path) -> None:
    kept, gone = _run(project, "-P", "alpha=0.1"), _run(project, "-P", "alpha=0.2")
    done = run_proj("runs", "delete", gone[:10], cwd=project, check_exit=0)
    assert done.stdout.strip() == f"deleted run {gone} 'managed:main'"
    assert "`proj runs list --deleted` lists deleted runs" in done.stderr
    assert _ids(project) == [kept] and _ids(project, "--deleted") == [gone]
    assert _ids(project, "--filter", "params.alpha = '0.2'") == []
    record = show_run(gone, project)
    assert record["deleted"] is True and record["status"] == "FINISHED"  # a flag beside the status
    assert "deleted      " in run_proj("runs", "show", gone, cwd=project, check_exit=0).stdout
    assert "was already deleted" in run_proj("runs", "delete", gone, cwd=project, check_exit=0).stderr
    continued = run_proj("run", ".", "--run-id", gone, cwd=project, check_exit=USAGE)
    assert f"Run {gone} is deleted; it cannot be continued" in continued.stderr
    restored = run_proj("runs", "restore", gone, cwd=project, check_exit=0)
    assert restored.stdout.strip() == f"restored run {gone} 'managed:main'"
    assert _ids(project) == [gone, kept] and show_run(gone, project)["deleted"] is False
    assert "was not deleted" in run_proj("runs", "restore", kept, cwd=project, check_exit=0).stderr


def test_a_running_run_is_neither_deleted_nor_collected(project: Path) -> None:
    launcher = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang"], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_file(project / "started.txt", timeout=60)
        [running] = _ids(project, "--status", "running")
        refused = run_proj("runs", "delete", running, cwd=project, check_exit=USAGE)
        assert f"Run {running} is RUNNING: it cannot be deleted while it may still be written" in refused.stderr
        assert "proj runs refresh" in refused.stderr
        assert show_run(running, project)["deleted"] is False
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=60)
    assert show_run(running, project)["status"] == "KILLED"
    run_proj("runs", "delete", running, cwd=project, check_exit=0)  # once it has ended


def test_gc_removes_deleted_runs_with_their_sizes(project: Path) -> None:
    kept, gone = _run(project), _run(project, "-P", "alpha=0.7")
    folder = project / ".proj" / "runs" / gone
    (folder / "outputs" / "weights.bin").write_bytes(b"\0" * 300_000)
    run_proj("runs", "delete", gone, cwd=project, check_exit=0)
    shown = size(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))  # the log, the weights, ...
    assert shown.endswith(" KiB") and 293 <= float(shown.split()[0]) < 295
    planned = run_proj("gc", "--dry-run", "--env-idle", "100000", cwd=project, check_exit=0).stdout
    lines = planned.strip().splitlines()
    assert lines[0].split() == ["WHAT", "NAME", "SIZE", "WHY"]
    assert lines[1].split()[:4] == ["run", gone, *shown.split()] and "deleted 'managed:main'" in lines[1]
    assert lines[-1] == f"would remove 1 item, {shown} (run without --dry-run to remove them)"
    assert folder.is_dir()
    assert "nothing to remove" in run_proj("gc", "--older-than", "1", "--env-idle", "100000", cwd=project,
                                           check_exit=0).stdout  # deleted just now
    done = run_proj("gc", "--env-idle", "100000", cwd=project, check_exit=0).stdout
    assert done.strip().splitlines()[-1] == f"removed 1 item, {shown} freed"
    assert not folder.exists() and _ids(project, "--deleted") == [] and _ids(project) == [kept]
    assert f"No run '{gone}'" in run_proj("runs", "restore", gone, cwd=project, check_exit=USAGE).stderr
    assert run_proj("gc", "--env-idle", "100000", cwd=project, check_exit=0).stdout.strip() == "nothing to remove"


@pytest.mark.git
def test_gc_removes_checkouts_left_behind(project: Path, git_available, tmp_path: Path, isolated_home: Path) -> None:
    from helpers.gitrepo import GitRepo
    from runner.gitmirror import keep_checkout

    repo = GitRepo.create(tmp_path / "repo", {"MLproject": SPEC})
    launcher = subprocess.Popen([sys.executable, "-m", "runner", "run", str(repo.path), "-v", "HEAD", "-e", "hang"],
                                cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "PROJ_HOME": str(isolated_home)})
    checkouts = isolated_home / "checkouts"
    wait_for(lambda: any(p.glob("started.txt") for p in checkouts.glob("*")), timeout=60, what="the run to start")
    launcher.kill()  # proj dies: its checkout stays behind (the next fetch of the repository would reap it)
    launcher.wait(timeout=30)
    [left] = [p for p in checkouts.iterdir() if not p.name.startswith(".")]
    held = _run(project)  # a finished run of this store holding a second checkout (as a scheduled job would)
    second = left.with_name(left.name + "-copy")
    subprocess.run(["cp", "-r", str(left), str(second)], check=True)
    keep_checkout(second, [held])  # fabricated: a holder whose release was never recorded
    planned = run_proj("gc", "--dry-run", "--env-idle", "100000", cwd=project, check_exit=0).stdout
    assert f"checkout  {left.name}" in planned and "left by a proj that died" in planned
    assert f"checkout  {second.name}" in planned and f"kept for run {held[:12]}, which ended" in planned
    run_proj("gc", "--env-idle", "100000", cwd=project, check_exit=0)
    assert not left.exists() and not second.exists()


@pytest.mark.uv
def test_gc_removes_environments_no_kept_run_uses(wheelhouse, tmp_path: Path, isolated_home: Path) -> None:
    import shutil

    from conftest import DATA

    greet = tmp_path / "greet"
    shutil.copytree(DATA / "python-env-greet", greet)
    (greet / "python_env.yaml").write_text(f"python: '{sys.version_info.major}.{sys.version_info.minor}'\n"
                                           "dependencies:\n  - -r requirements.txt\n")
    first = run_id_of(run_proj("run", ".", cwd=greet, check_exit=0))
    key = show_run(first, greet)["environment"]["key"]
    assert (isolated_home / "envs" / key).is_dir()
    # Used by a run the store keeps: never proposed, however idle.
    assert key not in run_proj("gc", "--dry-run", "--env-idle", "0", cwd=greet, check_exit=0).stdout
    run_proj("runs", "delete", first, cwd=greet, check_exit=0)
    recent = run_proj("gc", "--dry-run", cwd=greet, check_exit=0).stdout  # used just now: idle less than 7 days
    assert key not in recent
    planned = run_proj("gc", "--dry-run", "--env-idle", "0", cwd=greet, check_exit=0).stdout
    [line] = [line for line in planned.splitlines() if line.startswith("environment")]
    assert line.split()[1] == key and "no run in this store uses it; last used" in line
    assert line.split()[3] in ("KiB", "MiB")
    run_proj("gc", "--env-idle", "0", cwd=greet, check_exit=0)
    assert not (isolated_home / "envs" / key).exists()
    assert run_proj("env", "list", check_exit=0).stdout.strip().startswith("no environments")


def test_a_plugin_store_without_searches_refuses_them_clearly(plugins_env: dict[str, str], project: Path,
                                                               tmp_path: Path) -> None:
    """The example JSON-folder store implements neither filters nor changes: each is refused
    with what it cannot do, rather than answered wrongly."""
    uri = f"jsondir://{tmp_path / 'runs'}"
    run_id = run_id_of(run_proj("run", ".", "--tracking-uri", uri, cwd=project, env=plugins_env, check_exit=0))
    for args, message in (
        (("runs", "list", "--filter", "params.alpha = '0.5'"), "cannot filter runs (--filter)"),
        (("runs", "list", "--deleted"), "cannot list deleted runs"),
        (("runs", "list", "--sort", "tags.team"), "cannot sort runs by a tag"),
        (("runs", "delete", run_id), "cannot delete or restore runs"),
        (("runs", "tag", run_id, "a=1"), "cannot tag runs"),
        (("runs", "rename", run_id, "x"), "cannot rename runs"),
    ):
        done = run_proj(*args, "--tracking-uri", uri, cwd=project, env=plugins_env, check_exit=USAGE)
        assert f"The tracking store {uri} {message}" in done.stderr, done.stderr
        assert "its plugin does not implement" in done.stderr
    listed = run_proj("runs", "list", "--tracking-uri", uri, "--format", "json", cwd=project, env=plugins_env,
                      check_exit=0)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]  # what it does implement still works
