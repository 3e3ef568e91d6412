"""`proj rerun --check`, `proj runs diff --exit-code`, run cards as diff operands, `--format json`
and `--format github` through the command line, with the local environment (no git needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import run_id_of, run_proj
from helpers.exitcodes import DIFFERS, SETUP, USAGE

MLPROJECT = """\
entry_points:
  main:
    parameters: {shift: {type: float, default: 0.0}, code: {type: int, default: 0}}
    command: "python score.py {shift} {code}"
"""
SCORE = """\
import json, os, sys
shift, code = float(sys.argv[1]), int(sys.argv[2])
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "a") as out:
    out.write(json.dumps({"key": "rmse", "value": 0.5 + shift}) + "\\n")
    out.write(json.dumps({"key": "r2", "value": 0.8}) + "\\n")
print("scored")
sys.exit(code)
"""


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "MLproject").write_text(MLPROJECT)
    (folder / "score.py").write_text(SCORE)
    return folder


def run(project, *args: str, **kwargs) -> str:
    return run_id_of(run_proj("run", ".", "--env-manager", "local", *args, cwd=project, check_exit=0, **kwargs))


def test_run_format_json_is_one_document_with_the_run_id(project):
    done = run_proj("run", ".", "--env-manager", "local", "--format", "json", cwd=project, check_exit=0)
    result = json.loads(done.stdout)  # nothing else on stdout: the program's output went to stderr
    assert result["status"] == "FINISHED" and result["exit_code"] == result["proj_exit_code"] == 0
    assert result["metrics"] == {"rmse": 0.5, "r2": 0.8} and len(result["run_id"]) == 32
    assert "scored" in done.stderr
    failed = run_proj("run", ".", "--env-manager", "local", "-P", "code=3", "--format", "json", cwd=project,
                      check_exit=3)
    assert (json.loads(failed.stdout)["status"], json.loads(failed.stdout)["exit_code"]) == ("FAILED", 3)


def test_run_format_github_annotates_a_failed_run_and_sets_the_step_output(project, tmp_path):
    outputs = tmp_path / "github-output"
    outputs.write_text("")
    done = run_proj("run", ".", "--env-manager", "local", "-P", "code=4", "--format", "github", cwd=project,
                    env={"GITHUB_OUTPUT": str(outputs)}, check_exit=4)
    run_id = run_id_of(done)
    assert f"::error title=proj run%3A run FAILED::run {run_id} FAILED with exit code 4" in done.stdout
    assert outputs.read_text() == f"run-id={run_id}\n"


def test_procs_own_errors_come_in_the_format_asked_for(project):
    as_json = run_proj("run", ".", "--env-manager", "local", "-P", "shift=far", "--format", "json", cwd=project,
                       check_exit=USAGE)
    error = json.loads(as_json.stdout)
    assert error["proj_exit_code"] == USAGE and "Parameter 'shift' expects a float, got 'far'" in error["error"]
    as_github = run_proj("run", ".", "--env-manager", "local", "-P", "shift=far", "--format", "github",
                         cwd=project, check_exit=USAGE)
    assert as_github.stdout.startswith("::error title=proj::Parameter 'shift' expects a float")


def test_rerun_check_of_a_run_reproduces_and_an_override_that_moves_a_metric_does_not(project):
    original = run(project)
    same = run_proj("rerun", original, "--check", cwd=project, check_exit=0)
    assert "reproduced: run" in same.stdout and "inputs (source, parameters, command, environment)" in same.stdout
    moved = run_proj("rerun", original, "--check", "-P", "shift=0.1", cwd=project, check_exit=DIFFERS)
    rows = {line.split()[0] + " " + line.split()[1]: line for line in moved.stdout.splitlines()[1:-1]}
    assert rows["parameters: shift"].endswith("asked for (-P)") and rows["metric rmse"].endswith("DIFFERS")
    assert moved.stdout.splitlines()[-1].endswith("in metric rmse")
    run_proj("rerun", original, "--check", "-P", "shift=0.1", "--tolerance", "rmse=0.2", cwd=project, check_exit=0)


def test_rerun_check_format_github_logs_the_table_and_annotates_the_metric(project, tmp_path):
    original = run(project)
    files = {name: tmp_path / name.lower() for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    moved = run_proj("rerun", original, "--check", "-P", "shift=0.1", "--format", "github", cwd=project,
                     env={name: str(path) for name, path in files.items()}, check_exit=DIFFERS)
    lines = moved.stdout.splitlines()
    table = [line for line in lines if line.startswith(("CHECK", "metric ", "NOT reproduced"))]
    assert table[0].startswith("CHECK") and table[-1].endswith("in metric rmse"), moved.stdout  # in the job's log
    (annotation,) = [line for line in lines if line.startswith("::error ")]
    assert annotation.startswith("::error title=proj check%3A metric rmse differs::metric rmse: 0.5 in run ")
    assert lines.index(annotation) > lines.index(table[-1])
    assert re.search(r"^run-id=[0-9a-f]{32}$", files["GITHUB_OUTPUT"].read_text(), re.M)
    assert "reproduced=false" in files["GITHUB_OUTPUT"].read_text()
    assert "| metric rmse | 0.5 | 0.6 | 0 | **differs** |" in files["GITHUB_STEP_SUMMARY"].read_text()


def test_a_failed_rerun_passes_its_own_code_through_check(project):
    original = run(project)
    run_proj("rerun", original, "--check", "-P", "code=5", cwd=project, check_exit=5)
    failed = run_proj("rerun", original, "--check", "-P", "code=5", "-P", "shift=0.1", "--format", "github",
                      cwd=project, check_exit=5)
    (annotation,) = [line for line in failed.stdout.splitlines() if line.startswith("::error ")]
    assert annotation.startswith("::error title=proj rerun%3A run FAILED::")  # not one per metric as well
    assert "metric rmse" in failed.stdout  # the table still shows what the failed re-run recorded
    assert "proj: no verdict: the re-run FAILED (exit code 5)" in failed.stderr


def test_runs_diff_takes_cards_and_exits_124_when_asked(project, tmp_path):
    first, second = run(project), run(project, "-P", "shift=0.25")
    card = tmp_path / "card.yaml"
    exported = run_proj("runs", "export", first, "-o", str(card), cwd=project, check_exit=0)
    assert "is not in a git repository: the card re-runs only where that folder exists" in exported.stderr
    run_proj("runs", "diff", str(card), first, "--exit-code", cwd=project, check_exit=0)
    differs = run_proj("runs", "diff", str(card), second, "--exit-code", cwd=project, check_exit=DIFFERS)
    assert "rmse: 0.5 -> 0.75" in differs.stdout and "shift: 0.0 -> 0.25" in differs.stdout
    data = json.loads(run_proj("runs", "diff", str(card), second, "--format", "json", cwd=project,
                               check_exit=0).stdout)
    assert data["verdict"]["reproduced"] is False and data["a"] == first
    run_proj("runs", "diff", first, second, cwd=project, check_exit=0)  # without --exit-code: just the diff


def test_a_metric_the_run_did_not_log_is_annotated_as_missing(project, tmp_path):
    first = run(project)
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", first, "-o", str(card), cwd=project, check_exit=0)
    data = yaml.safe_load(card.read_text())
    data["outcome"]["metrics"]["loss"] = {**data["outcome"]["metrics"]["rmse"], "last": 1.5}
    card.write_text(yaml.safe_dump(data))
    differs = run_proj("runs", "diff", str(card), first, "--format", "github", "--exit-code", cwd=project,
                       check_exit=DIFFERS)
    (annotation,) = [line for line in differs.stdout.splitlines() if line.startswith("::error ")]
    assert "title=proj check%3A metric loss is missing::" in annotation
    assert annotation.endswith(f"metric loss: 1.5 in run {first[:12]}, not logged in run {first[:12]}")


def test_a_card_rerun_in_a_fresh_store_suggests_a_diff_that_works(project, tmp_path):
    original = run(project)
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=project, check_exit=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_proj("rerun", str(card), cwd=elsewhere, check_exit=0)
    suggested = next(line for line in done.stderr.splitlines() if line.startswith("proj: compare: "))
    command = suggested.removeprefix("proj: compare: proj ").split()
    assert command[:3] == ["runs", "diff", str(card)]
    run_proj(*command, cwd=elsewhere, check_exit=0)


def test_a_mistyped_card_path_is_named_as_a_card_not_a_run_id(project, tmp_path):
    first = run(project)
    for args in (["rerun", "cards/baseline.yaml", "--check"], ["runs", "diff", first, "baseline.yml", "--exit-code"],
                 ["rerun", str(tmp_path), "--check"]):
        refused = run_proj(*args, cwd=project, check_exit=USAGE)
        assert f"run card '{args[-2]}'" in refused.stderr, refused.stderr  # the path before the flag
        assert "not a run id" not in refused.stderr and "hint: give the path of a card" in refused.stderr
    assert "a folder" in refused.stderr


def test_a_version_1_card_is_still_read_rerun_and_checked(project, tmp_path):
    original = run(project, "-P", "shift=0.25")
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=project, check_exit=0)
    data = yaml.safe_load(card.read_text())
    assert data["card_version"] == 2 and data["parameter_values"] == {"shift": 0.25, "code": 0}
    for key in ("parameter_values",):
        del data[key]
    del data["source"]["ran_in"], data["environment"]["python"]
    data["card_version"] = 1
    for name in ("user", "platform", "python_version"):
        del data["outcome"][name]
    card.write_text(yaml.safe_dump(data))
    done = run_proj("rerun", str(card), "--check", "--tolerance", "*=0", cwd=project)
    assert "metric rmse" in done.stdout and "Traceback" not in done.stderr
    assert done.returncode == 0, done.stdout  # compared as given: a v1 card knows no defaults or types
    assert re.search(r"^metric rmse +0.75 +0.75 +0 +same$", done.stdout, re.MULTILINE)


def test_a_card_of_an_unknown_version_is_refused(project, tmp_path):
    original = run(project)
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=project, check_exit=0)
    card.write_text(card.read_text().replace("card_version: 2", "card_version: 3"))
    refused = run_proj("rerun", str(card), cwd=project, check_exit=USAGE)
    assert "card_version" in refused.stderr


@pytest.mark.parametrize("module, extra, args", [
    ("rattler", "conda", ["--env-manager", "conda"]),
    ("docker", "docker", ["--env-manager", "docker"]),
])
def test_a_missing_extra_is_named(tmp_path, module, extra, args):
    project = tmp_path / "p"
    project.mkdir()
    (project / "MLproject").write_text("name: x\nconda_env: conda.yaml\nentry_points:\n  main:\n    command: 'true'\n"
                                       if extra == "conda" else
                                       "name: x\ndocker_env: {image: 'busybox:latest'}\nentry_points:\n"
                                       "  main:\n    command: 'true'\n")
    (project / "conda.yaml").write_text("name: x\ndependencies: [python=3.11]\n")
    # The extra's module made unimportable, as in an installation without it.
    script = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['proj', 'run', '.', *{args!r}]; "
              "from runner.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == SETUP, result.stderr
    assert f"needs the {extra} extra, which is not installed (missing: {module})" in result.stderr
    assert f"pip install 'proj-runner[{extra}]'" in result.stderr and "Traceback" not in result.stderr
