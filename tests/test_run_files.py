"""What a run leaves in its folder can never take proj out of it, hang it or balloon it.

Each run here is hostile to its own record: it swaps its output folder or its log for a link to a
folder outside, links out at depth, or makes metrics.jsonl a FIFO, a link to /dev/zero, a folder,
a 100 MB line or a million points. Through the command line and the web app, as a user would, the
tests check the exit code, the message, that the record is complete (status, exit code, log),
that nothing outside the run is listed, copied or served, and that no process is left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.figures import measured_proj, record_figure
from helpers.processes import processes_of_run

SECRET = "TOP-SECRET-CONTENT"
SPEC = """\
name: hostile
entry_points:
  swap_outputs:
    parameters: {outside: path}
    command: 'echo ran; rm -rf "$PROJ_OUTPUT_DIR"; ln -s {outside} "$PROJ_OUTPUT_DIR"'
  link_deep:
    parameters: {outside: path}
    command: |
      mkdir -p "$PROJ_OUTPUT_DIR/sub/deeper"
      ln -s {outside} "$PROJ_OUTPUT_DIR/sub/deeper/link"
      ln -s {outside}/secret.txt "$PROJ_OUTPUT_DIR/sub/file-link.txt"
      echo kept > "$PROJ_OUTPUT_DIR/sub/kept.txt"
  swap_log:
    parameters: {outside: path}
    command: 'echo ran; cd "$PROJ_OUTPUT_DIR/.."; rm output.log; ln -s {outside}/secret.txt output.log'
  special:
    parameters: {make: string}
    command: 'echo ran; cd "$PROJ_OUTPUT_DIR" && eval {make}'
  long_line:
    command: |
      head -c 100000000 /dev/zero | tr '\\0' x > "$PROJ_OUTPUT_DIR/metrics.jsonl"
      printf '\\n{{"key": "after", "value": 1.5, "step": 2}}\\n' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
  many_points:
    parameters: {count: int}
    command: "python3 points.py {count}"
"""
# A million points as runner.log_metric writes them, five keys, in one buffered stream.
POINTS = """\
import json, os, sys, time
now = time.time()
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "w") as out:
    for i in range(int(sys.argv[1])):
        out.write(json.dumps({"key": f"m{i % 5}", "value": (i % 997) / 7, "step": i, "timestamp": now}) + "\\n")
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "points.py").write_text(POINTS)
    return folder


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside every run, with a file no run's artifacts may ever show."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET + "\n")
    return folder


def finished_run(project: Path, *args: str, timeout: float = 120) -> tuple[str, dict, str]:
    """Run an entry point; check it ended FINISHED/0 with its log kept and no process left."""
    result = run_proj("run", ".", *args, cwd=project, timeout=timeout, check_exit=0)
    run_id = run_id_of(result)
    view = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)
    assert (view["status"], view["exit_code"]) == ("FINISHED", 0)
    assert processes_of_run(run_id) == []
    return run_id, view, result.stderr


def test_a_run_that_swaps_its_output_folder_for_a_link_shows_nothing_outside(project, outside, tmp_path):
    run_id, view, _ = finished_run(project, "-e", "swap_outputs", "-P", f"outside={outside}")
    assert view["artifacts"] == [] and SECRET not in json.dumps(view)
    assert (project / ".proj" / "runs" / run_id / "output.log").read_text() == "ran\n"
    listing = run_proj("runs", "artifacts", run_id, cwd=project, check_exit=0)
    assert listing.stdout.strip() == "no artifacts"
    copied = run_proj("runs", "artifacts", run_id, "-o", str(tmp_path / "all"), cwd=project, check_exit=0)
    assert "copied 0 files" in copied.stdout and not (tmp_path / "all").exists()
    one = run_proj("runs", "artifacts", run_id, "secret.txt", "-o", "-", cwd=project)
    assert one.returncode == USAGE and SECRET not in one.stdout and "no artifact 'secret.txt'" in one.stderr
    assert "Traceback" not in one.stderr


def test_links_at_any_depth_are_neither_listed_copied_nor_read(project, outside, tmp_path):
    run_id, view, _ = finished_run(project, "-e", "link_deep", "-P", f"outside={outside}")
    assert [a["path"] for a in view["artifacts"]] == ["sub/kept.txt"]
    run_proj("runs", "artifacts", run_id, "sub", "-o", str(tmp_path / "sub"), cwd=project, check_exit=0)
    assert sorted(p.name for p in (tmp_path / "sub").rglob("*")) == ["kept.txt"]
    for path in ("sub/deeper/link/secret.txt", "sub/file-link.txt", "sub/deeper/link"):
        result = run_proj("runs", "artifacts", run_id, path, "-o", "-", cwd=project)
        assert result.returncode == USAGE and SECRET not in result.stdout, path


def test_a_run_that_swaps_its_log_for_a_link_gets_it_back_and_no_link_is_followed(project, outside):
    run_id, view, stderr = finished_run(project, "-e", "swap_log", "-P", f"outside={outside}")
    log = project / ".proj" / "runs" / run_id / "output.log"
    assert f"the run replaced its log {log} with a symbolic link; proj put back the log it kept (4 bytes)" in stderr
    assert not log.is_symlink() and log.read_text() == "ran\n"
    assert run_proj("runs", "logs", run_id, cwd=project, check_exit=0).stdout == "ran\n"
    # A link put there once proj has let go of the log (as a detached job could) is refused, not followed.
    log.unlink()
    log.symlink_to(outside / "secret.txt")
    logs = run_proj("runs", "logs", run_id, cwd=project)
    assert logs.returncode == SETUP and SECRET not in logs.stdout
    assert f"Cannot read output.log of run {run_id}: it is a symlink" in logs.stderr
    card = run_proj("runs", "export", run_id, cwd=project, check_exit=0)
    assert SECRET not in card.stdout


@pytest.mark.parametrize("make, kind", [
    ("ln -s /dev/zero metrics.jsonl", "is a symlink, not a regular file"),
    ("mkfifo metrics.jsonl", "is a FIFO, not a regular file"),
    ("mkdir metrics.jsonl", "is a folder, not a regular file"),
    ("ln -s /dev/zero model.bin && mkfifo pipe && echo real > real.txt", None),
])
def test_special_files_are_skipped_without_hanging_or_growing(project, make, kind):
    started = time.monotonic()
    run_id, view, stderr = finished_run(project, "-e", "special", "-P", f"make={make}", timeout=60)
    assert time.monotonic() - started < 60
    if kind is not None:
        assert f"warning: metrics.jsonl {kind}; not read" in stderr
        assert view["metrics"] == {} and view["metric_problems"] == [f"metrics.jsonl {kind}; not read"]
    else:
        assert [a["path"] for a in view["artifacts"]] == ["real.txt"]
    shown = run_proj("runs", "show", run_id, cwd=project, timeout=30, check_exit=0)
    assert "status       FINISHED (exit code 0)" in shown.stdout


def test_an_endless_line_is_skipped_without_being_held(project):
    measured = measured_proj("run", ".", "-e", "long_line", cwd=project)
    assert measured["code"] == 0, measured["stderr"]
    assert "metrics.jsonl line 1: line too long; skipped" in measured["stderr"]
    run_id = run_id_of(measured["stderr"])
    view = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)
    assert view["status"] == "FINISHED" and view["metrics"]["after"]["last"] == 1.5
    assert measured["peak_mib"] < 100, f"peak RSS {measured['peak_mib']:.0f} MiB"
    record_figure("metrics_100mb_line", {"peak_rss_mib": round(measured["peak_mib"]),
                                         "seconds": round(measured["seconds"], 1)})


def test_the_metrics_file_is_read_up_to_its_limit(project):
    result = run_proj("run", ".", "-e", "many_points", "-P", "count=40000", cwd=project,
                      env={"PROJ_MAX_METRICS_BYTES": "1M"}, check_exit=0)
    assert "metrics.jsonl is larger than 1048576 bytes; the rest was not read (PROJ_MAX_METRICS_BYTES)" in result.stderr
    view = json.loads(run_proj("runs", "show", run_id_of(result), "--format", "json", cwd=project,
                               check_exit=0).stdout)
    counted = sum(m["count"] for m in view["metrics"].values())
    assert 5000 < counted < 40000  # what fits in 1 MiB, and no more


def test_a_bad_limit_setting_is_refused_before_anything_runs(project):
    result = run_proj("run", ".", "-e", "many_points", "-P", "count=10", cwd=project,
                      env={"PROJ_MAX_METRICS_BYTES": "lots"})
    assert result.returncode == USAGE
    assert "PROJ_MAX_METRICS_BYTES='lots' is not a limit proj understands" in result.stderr
    assert "Traceback" not in result.stderr and not (project / ".proj").exists()


def test_skipped_lines_are_reported_a_few_at_a_time(project, tmp_path):
    garbage = "  garbage:\n    command: 'seq 1 5000 > \"$PROJ_OUTPUT_DIR/metrics.jsonl\"'\n"
    (project / "MLproject").write_text(SPEC + garbage)
    result = run_proj("run", ".", "-e", "garbage", cwd=project, check_exit=0)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("proj: warning: metrics.jsonl")]
    assert len(warnings) == 21 and warnings[-1].endswith("metrics.jsonl: 4980 more lines skipped")


@pytest.mark.slow
def test_a_million_points_end_the_run_and_show_it_in_bounded_time_and_memory(project):
    """The end of a run, `runs show` and the run's web page on a run that wrote 10^6 points."""
    from starlette.testclient import TestClient

    from runner.ui.app import create_app

    run = measured_proj("run", ".", "-e", "many_points", "-P", "count=1000000", cwd=project)
    assert run["code"] == 0, run["stderr"]
    run_id = run_id_of(run["stderr"])
    show = measured_proj("runs", "show", run_id, cwd=project)
    view = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)
    assert sum(m["count"] for m in view["metrics"].values()) == 1_000_000
    assert view["metrics"]["m4"]["last_step"] == 999_999
    with TestClient(create_app(str(project / ".proj")), base_url="http://127.0.0.1") as client:
        started = time.monotonic()
        page = client.get(f"/runs/{run_id}")
        page_seconds = time.monotonic() - started
        points = client.get(f"/api/runs/{run_id}/metrics?key=m1&offset=100000&limit=3").json()
    assert page.status_code == 200 and page.text.count("<polyline") == 5
    assert [p["step"] for p in points["points"]] == [500001, 500006, 500011]
    assert points["next_offset"] == 100003
    assert run["peak_mib"] < 150 and show["peak_mib"] < 150, (run["peak_mib"], show["peak_mib"])
    record_figure("million_metric_points", {
        "run_seconds": round(run["seconds"], 1), "run_peak_rss_mib": round(run["peak_mib"]),
        "show_seconds": round(show["seconds"], 1), "show_peak_rss_mib": round(show["peak_mib"]),
        "ui_page_seconds": round(page_seconds, 1)})


def test_a_listing_of_many_artifacts_is_capped_in_show(project, tmp_path):
    (project / "MLproject").write_text(SPEC + "  many_files:\n    command: "
                                              "'cd \"$PROJ_OUTPUT_DIR\" && for i in $(seq 1 30); do : > f$i; done'\n")
    env = {"PROJ_MAX_ARTIFACTS_LISTED": "10"}
    result = run_proj("run", ".", "-e", "many_files", cwd=project, env=env, check_exit=0)
    run_id = run_id_of(result)
    view = json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, env=env, check_exit=0).stdout)
    assert len(view["artifacts"]) == 10 and view["artifacts_not_listed"] == 20
    text = run_proj("runs", "show", run_id, cwd=project, env=env, check_exit=0).stdout
    assert f"... and 20 more (`proj runs artifacts {run_id[:12]}` lists them all)" in text
    listing = run_proj("runs", "artifacts", run_id, cwd=project, env=env, check_exit=0).stdout
    assert len(listing.splitlines()) == 30
