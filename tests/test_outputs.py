"""Run outputs: metrics and artifacts written to $PROJ_OUTPUT_DIR, from shell and from Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import USAGE
from helpers.processes import wait_for
from runner.outputs import artifact_path, read_metrics
from runner.runfiles import RunFolder

SHELL_PROJECT = """\
name: shell-metrics
entry_points:
  main:
    parameters:
      rmse: {type: float, default: 0.5}
    command: |
      for step in 1 2 3; do
        echo "{{\\"key\\": \\"loss\\", \\"value\\": $step.5, \\"step\\": $step}}" >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      done
      echo '{{"key": "rmse", "value": {rmse}}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      echo 'this is not json' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      echo '{{"key": "rmse", "value": "high"}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      mkdir -p "$PROJ_OUTPUT_DIR/plots" && printf 'png' > "$PROJ_OUTPUT_DIR/plots/curve.png"
      echo model > "$PROJ_OUTPUT_DIR/model.txt"
  wait:
    command: |
      echo '{{"key": "progress", "value": 0.25, "step": 1}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      while [ ! -e release ]; do sleep 0.05; done
      echo '{{"key": "progress", "value": 1.0, "step": 2}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
  escape:
    command: |
      ln -s /etc/passwd "$PROJ_OUTPUT_DIR/passwd"
      ln -s / "$PROJ_OUTPUT_DIR/root"
      echo kept > "$PROJ_OUTPUT_DIR/real.txt"
  python:
    parameters:
      python: string
    command: "{python} train.py"
"""
PYTHON_TRAIN = """\
import pathlib, runner
for step in range(4):
    runner.log_metric("accuracy", 0.5 + step / 10, step=step)
pathlib.Path("weights.bin").write_bytes(b"w" * 1000)
runner.log_artifact("weights.bin", "model/weights.bin")
try:
    runner.log_artifact("weights.bin", "../outside.bin")
except ValueError as err:
    print("refused:", err)
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SHELL_PROJECT)
    (folder / "train.py").write_text(PYTHON_TRAIN)
    return folder


def show(project: Path, run_id: str) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)


def test_shell_project_metrics_and_artifacts_are_kept(project):
    result = run_proj("run", ".", "-P", "rmse=0.71", cwd=project, check_exit=0)
    assert "metrics.jsonl line 5: not valid JSON; skipped" in result.stderr
    assert "metrics.jsonl line 6: 'value' of 'rmse' must be a number; skipped" in result.stderr
    view = show(project, run_id_of(result))
    assert view["status"] == "FINISHED"
    assert view["metrics"] == {
        "loss": {"last": 3.5, "min": 1.5, "max": 3.5, "count": 3, "last_step": 3},
        "rmse": {"last": 0.71, "min": 0.71, "max": 0.71, "count": 1, "last_step": None},
    }
    assert len(view["metric_problems"]) == 2
    assert {a["path"] for a in view["artifacts"]} == {"metrics.jsonl", "model.txt", "plots/curve.png"}
    text = run_proj("runs", "show", view["run_id"], cwd=project, check_exit=0).stdout
    assert "loss = 3.5  (min 1.5, max 3.5, 3 values, last step 3)" in text and "plots/curve.png" in text


def test_python_helper_logs_metrics_and_artifacts(project):
    result = run_proj("run", ".", "-e", "python", "-P", f"python={sys.executable}", cwd=project, check_exit=0)
    assert "refused: artifact name '../outside.bin' must stay inside" in result.stdout
    view = show(project, run_id_of(result))
    assert view["metrics"]["accuracy"]["count"] == 4 and view["metrics"]["accuracy"]["max"] == pytest.approx(0.8)
    assert {"path": "model/weights.bin", "size": 1000} in view["artifacts"]
    assert not (project.parent / "outside.bin").exists()


def test_helper_outside_proj_only_warns(tmp_path):
    script = "import runner, warnings; warnings.simplefilter('error'); runner.log_metric('x', 1)"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "PROJ_OUTPUT_DIR is not set" in result.stderr


def test_metrics_are_visible_while_the_run_is_running(project):
    proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "wait"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def running_with_progress():
            runs = json.loads(run_proj("runs", "list", "--format", "json", cwd=project).stdout or "[]")
            if not runs:
                return None
            view = show(project, runs[0]["run_id"])
            return view if view["metrics"].get("progress") else None

        view = wait_for(running_with_progress, timeout=30, what="a live metric")
        assert view["status"] == "RUNNING" and view["metrics"]["progress"]["last"] == 0.25
    finally:
        (project / "release").write_text("")
        proj.communicate(timeout=30)
    assert proj.returncode == 0
    assert show(project, view["run_id"])["metrics"]["progress"]["last"] == 1.0


def test_runs_list_sorts_by_a_metric(project):
    for value in ("0.9", "0.2", "0.5"):
        run_proj("run", ".", "-P", f"rmse={value}", cwd=project, check_exit=0)
    run_proj("run", ".", "-e", "escape", cwd=project, check_exit=0)  # no rmse: listed last

    def order(*extra: str) -> list:
        runs = json.loads(run_proj("runs", "list", "--metric", "rmse", *extra, "--format", "json",
                                   cwd=project, check_exit=0).stdout)
        return [r["metrics"].get("rmse", {}).get("last") for r in runs]

    assert order() == [0.2, 0.5, 0.9, None]
    assert order("--desc") == [0.9, 0.5, 0.2, None]
    table = run_proj("runs", "list", "--metric", "rmse", cwd=project, check_exit=0).stdout
    # The start time is three words (date, time, zone).
    assert table.splitlines()[0].split()[6] == "RMSE" and table.splitlines()[1].split()[8] == "0.2"


def test_artifacts_listed_and_copied(project, tmp_path):
    run_id = run_id_of(run_proj("run", ".", cwd=project, check_exit=0))
    listing = run_proj("runs", "artifacts", run_id, cwd=project, check_exit=0).stdout
    assert "plots/curve.png  3 B" in listing
    run_proj("runs", "artifacts", run_id, "-o", str(tmp_path / "all"), cwd=project, check_exit=0)
    assert (tmp_path / "all" / "plots" / "curve.png").read_bytes() == b"png"
    run_proj("runs", "artifacts", run_id, "plots", "-o", str(tmp_path / "plots"), cwd=project, check_exit=0)
    assert (tmp_path / "plots" / "curve.png").exists()
    run_proj("runs", "artifacts", run_id, "model.txt", "-o", str(tmp_path / "one"), cwd=project, check_exit=0)
    assert (tmp_path / "one" / "model.txt").read_text() == "model\n"


@pytest.mark.parametrize("path", ["../output.log", "/etc/passwd", "plots/../../output.log", "passwd", "root/etc"])
def test_hostile_artifact_paths_never_leave_the_run_folder(project, tmp_path, path):
    run_id = run_id_of(run_proj("run", ".", "-e", "escape", cwd=project, check_exit=0))
    listing = run_proj("runs", "artifacts", run_id, cwd=project, check_exit=0).stdout
    assert listing.strip() == "real.txt  5 B"  # the symlinks are not artifacts
    result = run_proj("runs", "artifacts", run_id, path, "-o", str(tmp_path / "out"), cwd=project)
    assert result.returncode == USAGE, result.stdout
    assert not (tmp_path / "out").exists()


def test_metric_line_rules(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"key": "a", "value": 1}\n[1]\n{"key": "", "value": 1}\n{"key": "b", "value": true}\n'
                    '{"key": "c", "value": 1, "step": -1}\n{"key": "d", "value": 2, "step": 4, "timestamp": 5}\n'
                    '{"key": "e", "value": 1')
    running = read_metrics(RunFolder(tmp_path, ()), complete=False)
    assert [p.key for p in running.points()] == ["a", "d"] and len(running.problems) == 4
    finished = read_metrics(RunFolder(tmp_path, ()))
    assert len(finished.problems) == 5 and "line 7: not valid JSON" in finished.problems[-1]


def test_artifact_path_rules(tmp_path):
    (tmp_path / "a").mkdir()
    assert artifact_path(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
    (tmp_path / "link").symlink_to(tmp_path / "a")
    for bad in ("../x", "/abs", "a/../../x", "link/b.txt"):
        with pytest.raises(ValueError):
            artifact_path(tmp_path, bad)
