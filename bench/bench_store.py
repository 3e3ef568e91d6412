"""The local store at scale: `proj runs list` with 10,000 runs recorded.

    python bench/bench_store.py [--runs 10000] [--repeat 15]

Fills a fresh store with RUNS finished runs (each with two parameters, three metrics, a tag, and
sweeps of ten) through the run lifecycle, then times listing commands against `proj --version`
measured in the same invocation, so the figures compare as ratios on a noisy machine. The target
(issue 20): three metric columns and a filter within 1.3x of `proj --version`. `proj runs list`
leaves out nested runs by default; this store has none, so `--nested` lists the same runs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner import lifecycle  # noqa: E402
from runner.tracking.base import EnvironmentRecord, ParameterRecord, RunRecord, RunStatus, SourceRecord  # noqa: E402
from runner.tracking.local import LocalStore  # noqa: E402

FILTER = "metrics.rmse < 0.5 and params.alpha = '0.5' and tags.team = 'vision'"


def fill(store: LocalStore, count: int) -> tuple[str, str]:
    """RUNS finished runs; returns the last run's id and a sweep's."""
    rng = random.Random(0)
    started = time.time() - count
    run_id = sweep_id = ""
    for i in range(count):
        alpha, seed = f"{rng.choice([0.1, 0.2, 0.5, 1.0])}", str(i % 7)
        sweep_id = f"{i // 10:032x}"[::-1]  # sweeps of ten, ids unique in their first characters
        record = RunRecord(
            experiment=f"exp-{i % 5}", run_name=f"run-{i}", entry_point="main", command=f"python train.py {alpha}",
            source=SourceRecord(uri="/tmp/project", kind="local", path="/tmp/project"),
            parameters=[ParameterRecord("alpha", "float", alpha, float(alpha), alpha, True),
                        ParameterRecord("seed", "int", seed, int(seed), seed, True)],
            environment=EnvironmentRecord(kind="local"), user="bench", host="bench", platform="linux",
            python_version="3.11", proj_version="bench", launcher="1:1", start_time=started + i,
            tags={"team": rng.choice(["vision", "nlp", "audio"])}, sweep_id=sweep_id,
        )
        run_id = lifecycle.start(store, record).run_id
        metrics = "".join(f'{{"key": "{key}", "value": {rng.random():.4f}}}\n' for key in ("rmse", "mae", "r2"))
        (store.output_dir(run_id) / "metrics.jsonl").write_text(metrics)
        lifecycle.end(store, store.get_run(run_id), lifecycle.Ending(RunStatus.FINISHED, 0, started + i + 1))
    return run_id, sweep_id


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv (CPU: the process and its waited-for children)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def measure(cases: dict[str, list[str]], env: dict[str, str], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, the commands alternating round by round (so a
    busy spell of the machine falls on all of them), after one warm-up round."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for round_ in range(repeat + 1):
        for name, argv in cases.items():
            sample = timed(argv, env)
            if round_:
                samples[name].append(sample)
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}


def commands(proj: list[str], last: str, sweep: str) -> dict[str, list[str]]:
    """What is timed, by name: the baseline first."""
    return {
        "proj --version (baseline)": [*proj, "--version"],
        "runs list (first page, 50)": [*proj, "runs", "list"],
        "runs list --format json": [*proj, "runs", "list", "--format", "json"],
        "runs list -P alpha=0.5": [*proj, "runs", "list", "-P", "alpha=0.5"],
        "runs list --metric rmse": [*proj, "runs", "list", "--metric", "rmse"],
        "runs list --experiment exp-3": [*proj, "runs", "list", "--experiment", "exp-3"],
        "runs list -m x3 --filter (target)": [*proj, "runs", "list", "-m", "rmse", "-m", "mae", "-m", "r2",
                                               "--filter", FILTER],
        "runs list --columns params,tags": [*proj, "runs", "list", "--columns", "params,tags"],
        "runs list --sort metrics.r2 DESC": [*proj, "runs", "list", "--sort", "metrics.r2 DESC"],
        "runs list --sweep <prefix>": [*proj, "runs", "list", "--sweep", sweep[:8]],
        "runs list --format csv": [*proj, "runs", "list", "--format", "csv"],
        "runs list --nested": [*proj, "runs", "list", "--nested"],
        "runs show <prefix>": [*proj, "runs", "show", last[:8]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    try:
        store_dir = scratch / "store"
        began = time.perf_counter()
        os.environ["PROJ_HOME"] = str(scratch / "home")
        last, sweep = fill(LocalStore(store_dir), args.runs)
        fill_seconds = time.perf_counter() - began
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PROJ_TRACKING_URI=str(store_dir), PROJ_HOME=str(scratch / "home"))
        beside = Path(sys.executable).parent / "proj"  # the proj of this interpreter, not another on PATH
        proj = [str(beside)] if beside.exists() else [sys.executable, "-m", "runner"]
        results = measure(commands(proj, last, sweep), env, args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall_base, cpu_base = results["proj --version (baseline)"]
    print(f"{args.runs} runs recorded in {fill_seconds:.1f} s ({args.runs / fill_seconds:.0f} runs/s); "
          f"median of {args.repeat} rounds; CPU is the robust figure on a shared machine")
    print(f"  {'':<36} {'wall':>9}  {'ratio':>5}   {'CPU':>8}  {'ratio':>5}")
    for name, (wall, cpu) in results.items():
        print(f"  {name:<36} {wall * 1000:6.1f} ms  {wall / wall_base:4.2f}x   {cpu * 1000:5.1f} ms  "
              f"{cpu / cpu_base:4.2f}x")
    wall, cpu = results["runs list -m x3 --filter (target)"]
    print(f"target (three metric columns and a filter within 1.3x of proj --version): CPU {cpu / cpu_base:.2f}x, "
          f"wall {wall / wall_base:.2f}x: {'met' if cpu / cpu_base <= 1.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
