"""`proj run --sweep` on this machine: the cartesian product, checked first, run up to -j at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_proj
from helpers.exitcodes import USAGE
from helpers.processes import alive, wait_for
from runner.errors import UsageError
from runner.sweepspace import SweepAxis, parse_sweeps, sweep_points

SPEC = """\
name: grid
entry_points:
  main:
    parameters:
      alpha: float
      l1_ratio: {type: float, default: 0.5}
      code: {type: int, default: 0}
    command: "echo alpha={alpha} l1_ratio={l1_ratio}; exit {code}"
  meet:
    parameters:
      name: string
    # Each point waits until two points have started: with -j 1 it would give up (exit 9).
    command: >-
      touch started-{name};
      for i in $(seq 60); do [ $(ls started-* | wc -l) -ge 2 ] && exit 0; sleep 0.05; done; exit 9
  hang:
    parameters:
      name: string
    command: "sleep 300 & echo $! > pid-{name}; wait"
  fit:
    parameters:
      alpha: float
      epochs: {type: int, default: 1}
    command: |
      echo '{{"key": "rmse", "value": {alpha}}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
"""


@pytest.fixture
def grid(tmp_path) -> Path:
    project = tmp_path / "grid"
    project.mkdir()
    (project / "MLproject").write_text(SPEC)
    return project


def runs_of_sweep(sweep_id: str, cwd: Path) -> list[dict]:
    listed = run_proj("runs", "list", "--sweep", sweep_id, "--format", "json", cwd=cwd, check_exit=0)
    return json.loads(listed.stdout)


def sweep_id_of(stderr: str) -> str:
    return stderr.split("proj runs list --sweep ")[-1].split()[0]


def test_points_are_the_cartesian_product_in_order():
    axes = [SweepAxis("alpha", ("0.1", "0.2")), SweepAxis("l1_ratio", ("0.5", "0.9"))]
    assert sweep_points(axes) == [{"alpha": "0.1", "l1_ratio": "0.5"}, {"alpha": "0.1", "l1_ratio": "0.9"},
                                  {"alpha": "0.2", "l1_ratio": "0.5"}, {"alpha": "0.2", "l1_ratio": "0.9"}]


def test_a_comma_inside_a_value_is_written_escaped():
    assert parse_sweeps(["tag=a\\,b,c"]) == [SweepAxis("tag", ("a,b", "c"))]


@pytest.mark.parametrize("options, fixed, message", [
    (["alpha"], {}, "expected NAME=VALUE1,VALUE2"),
    (["alpha=0.1,,0.2"], {}, "a value is empty"),
    (["alpha=0.1,0.1"], {}, "'0.1' appears twice"),
    (["alpha=0.1", "alpha=0.2"], {}, "given twice"),
    (["alpha=0.1"], {"alpha": "0.3"}, "given with -P and swept"),
])
def test_malformed_sweeps_are_refused(options, fixed, message):
    with pytest.raises(UsageError, match=message):
        parse_sweeps(options, fixed)


def test_every_bad_value_is_reported_before_anything_runs(grid):
    done = run_proj("run", ".", "--sweep", "alpha=0.1,fast,0.3", "--sweep", "code=0,x", cwd=grid, check_exit=USAGE)
    assert "Parameter 'alpha' expects a float, got 'fast'" in done.stderr
    assert "Parameter 'code' expects an int (a whole number), got 'x'" in done.stderr
    assert "nothing was run" in done.stderr and "Traceback" not in done.stderr
    assert run_proj("runs", "list", cwd=grid, check_exit=0).stdout.strip() == "no runs"


def test_local_sweep_runs_each_point_as_its_own_run_with_one_sweep_id(grid):
    run_proj("run", ".", "-P", "alpha=9", cwd=grid, check_exit=0)  # not part of the sweep
    done = run_proj("run", ".", "--sweep", "alpha=0.1,0.2", "--sweep", "code=0,3", cwd=grid, check_exit=1)

    assert done.stdout.startswith("alpha=0.1 l1_ratio=0.5\nalpha=0.1 l1_ratio=0.5\nalpha=0.2")  # -j 1: shown live
    runs = runs_of_sweep(sweep_id_of(done.stderr), grid)
    points = sorted(({p["name"]: p["value"] for p in r["parameters"]}["alpha"],
                     {p["name"]: p["value"] for p in r["parameters"]}["code"], r["status"]) for r in runs)
    assert points == [(0.1, 0, "FINISHED"), (0.1, 3, "FAILED"), (0.2, 0, "FINISHED"), (0.2, 3, "FAILED")]
    assert len({r["sweep_id"] for r in runs}) == 1
    assert all(r["run_name"].startswith("grid:main [alpha=") for r in runs)


def test_points_run_in_parallel_with_j(grid):
    done = run_proj("run", ".", "-e", "meet", "--sweep", "name=a,b,c,d", "-j", "2", cwd=grid, check_exit=0)
    runs = runs_of_sweep(sweep_id_of(done.stderr), grid)
    assert [r["status"] for r in runs] == ["FINISHED"] * 4
    assert done.stdout.count("FINISHED") == 4  # the summary table; the points' output is in their logs


def test_one_at_a_time_the_meeting_points_give_up(grid):
    done = run_proj("run", ".", "-e", "meet", "--sweep", "name=a,b", cwd=grid, check_exit=1)
    exit_codes = sorted(r["exit_code"] for r in runs_of_sweep(sweep_id_of(done.stderr), grid))
    assert exit_codes == [0, 9]  # the first waited for a second point that had not started


def test_ctrl_c_stops_the_running_points_and_starts_no_more(grid):
    proj = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang", "--sweep",
                             "name=a,b,c,d", "-j", "2"], cwd=grid, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    def two_started():
        written = [p for p in grid.glob("pid-*") if p.read_text().strip()]
        return written if len(written) == 2 else None

    pids = wait_for(two_started, timeout=60, what="two points to start")
    proj.send_signal(signal.SIGINT)
    _out, err = proj.communicate(timeout=60)
    assert proj.returncode == 130, err
    sleepers = [int(p.read_text()) for p in pids]
    wait_for(lambda: not any(alive(pid) for pid in sleepers), timeout=10, what="the points' commands to end")
    listed = json.loads(run_proj("runs", "list", "--format", "json", cwd=grid, check_exit=0).stdout)
    assert sorted(r["status"] for r in listed) == ["KILLED", "KILLED"]  # c and d never started


@pytest.mark.parametrize("args, message", [
    (["-j", "2"], "-j, --max-parallel, --trials, --seed and --objective set how the points of a sweep run"),
    (["--sweep", "alpha=1,2", "--max-parallel", "2"], "--max-parallel throttles a scheduler's job array"),
    (["--sweep", "alpha=1,2", "-b", "slurm", "-j", "2"], "use --max-parallel N"),
    (["--sweep", "alpha=1,2", "-j", "0"], "1 or more"),
])
def test_parallelism_options_that_cannot_apply_are_refused(grid, args, message):
    done = run_proj("run", ".", *args, cwd=grid, check_exit=USAGE)
    assert message in done.stderr and "Traceback" not in done.stderr


def test_dry_run_shows_every_point(grid):
    done = run_proj("run", ".", "--sweep", "alpha=1,2,3", "--dry-run", cwd=grid, check_exit=0)
    assert done.stdout.startswith("sweep of 3 runs")
    assert [line.strip() for line in done.stdout.splitlines() if line.startswith("  echo")] == [
        "echo alpha=1 l1_ratio=0.5; exit 0", "echo alpha=2 l1_ratio=0.5; exit 0", "echo alpha=3 l1_ratio=0.5; exit 0"]
    assert run_proj("runs", "list", cwd=grid, check_exit=0).stdout.strip() == "no runs"


def test_a_random_search_counts_its_points_and_names_the_best(grid):
    done = run_proj("run", ".", "-e", "fit", "--sweep", "alpha=loguniform(1e-4,1e-1)", "--sweep",
                    "epochs=range(10,50,10)", "--trials", "5", "--seed", "1", "--objective", "rmse:min",
                    cwd=grid, check_exit=0)
    sweep_id = sweep_id_of(done.stderr)
    assert f"sweep {sweep_id}: a random search of 5 points drawn with --seed 1" in done.stderr
    counters = [line.split("]")[0] + "]" for line in done.stderr.splitlines() if line.startswith("proj: [")]
    assert counters == [f"proj: [{n}/5]" for n in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)]  # started, then ended
    runs = runs_of_sweep(sweep_id, grid)
    values = {r["run_id"][:12]: {p["name"]: p["value"] for p in r["parameters"]} for r in runs}
    assert all(1e-4 <= v["alpha"] <= 0.1 and v["epochs"] in (10, 20, 30, 40) for v in values.values())
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "EXIT", "alpha", "epochs", "rmse", "(min)"]
    table_ids = [line.split()[0] for line in lines[1:6]]
    assert [values[i]["alpha"] for i in table_ids] == sorted(v["alpha"] for v in values.values())  # best first
    best = table_ids[0]
    assert lines[6] == (f"best: run {best} with rmse = {values[best]['alpha']:g} (min) at "
                        f"alpha={values[best]['alpha']:g} epochs={values[best]['epochs']}")
    again = run_proj("run", ".", "-e", "fit", "--sweep", "alpha=loguniform(1e-4,1e-1)", "--sweep",
                     "epochs=range(10,50,10)", "--trials", "5", "--seed", "1", "--dry-run", cwd=grid, check_exit=0)
    assert again.stdout.startswith("sweep of 5 runs drawn with --seed 1")
    drawn = sorted(float(line.split("= ")[1].split()[0]) for line in again.stdout.splitlines()
                   if line.strip().startswith("alpha ="))
    assert drawn == sorted(v["alpha"] for v in values.values())  # the same seed draws the same points


def test_a_range_sweep_runs_each_value_and_max_objective_ranks_highest_first(grid):
    done = run_proj("run", ".", "-e", "fit", "--sweep", "alpha=range(0.1,0.4,0.1)", "--objective", "rmse:max",
                    cwd=grid, check_exit=0)
    rows = [line.split() for line in done.stdout.splitlines()[1:4]]
    assert [row[3] for row in rows] == ["0.3", "0.2", "0.1"] and [row[4] for row in rows] == ["0.3", "0.2", "0.1"]
    assert "a grid of 3 points" in done.stderr and "[3/3]" in done.stderr


def test_an_objective_no_run_logged_is_a_warning(grid):
    done = run_proj("run", ".", "--sweep", "alpha=1,2", "--objective", "accuracy:max", cwd=grid, check_exit=0)
    assert "warning: no run of the sweep logged the metric 'accuracy', so none is the best" in done.stderr
    # A misspelt objective: the warning names the metrics the runs did log.
    typo = run_proj("run", ".", "-e", "fit", "--sweep", "alpha=1,2", "--objective", "rmse:lowest", cwd=grid,
                    check_exit=0)
    assert "the metric 'rmse:lowest', so none is the best; they logged rmse" in typo.stderr
    assert "best:" not in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--sweep", "epochs=uniform(1,5)", "--trials", "2"],
     "--sweep epochs=uniform(1,5): parameter 'epochs' is an int; uniform draws real numbers"),
    (["--sweep", "alpha=uniform(0,1)"], "draws values at random, so the sweep needs a number of trials"),
    (["--sweep", "alpha=1,2", "--seed", "4"], "--seed seeds a random search"),
    (["--sweep", "alpha=1,2", "--objective", ":max"], "Invalid --objective ':max'"),
    (["--objective", "rmse"], "set how the points of a sweep run"),
    (["--sweep", "alpha=range(1,1)"], "the range is empty"),
])
def test_sweep_spaces_that_cannot_run_are_refused_before_anything_runs(grid, args, message):
    done = run_proj("run", ".", "-e", "fit", *args, cwd=grid, check_exit=USAGE)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (grid / ".proj").exists()
