"""The local store at scale: `proj runs list` with 10,000 runs recorded.

    python bench/bench_store.py [--runs 10000] [--repeat 15]

Fills a fresh store with RUNS finished runs (each with parameters and a metric) through the
store's own API, then times listing commands against `proj --version` measured in the same
invocation, so the figures compare as ratios on a noisy machine.
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

from runner.tracking.base import EnvironmentRecord, ParameterRecord, RunRecord, RunStatus, SourceRecord  # noqa: E402
from runner.tracking.local import LocalStore  # noqa: E402


def fill(store: LocalStore, count: int) -> str:
    rng = random.Random(0)
    started = time.time() - count
    run_id = ""
    for i in range(count):
        alpha = f"{rng.choice([0.1, 0.2, 0.5, 1.0])}"
        record = RunRecord(
            experiment=f"exp-{i % 5}", run_name=f"run-{i}", entry_point="main", command=f"python train.py {alpha}",
            source=SourceRecord(uri="/tmp/project", kind="local", path="/tmp/project"),
            parameters=[ParameterRecord("alpha", "float", alpha, float(alpha), alpha, True)],
            environment=EnvironmentRecord(kind="local"), user="bench", host="bench", platform="linux",
            python_version="3.11", proj_version="bench", launcher="1:1", start_time=started + i,
        )
        run_id = store.start_run(record).run_id
        (store.output_dir(run_id) / "metrics.jsonl").write_text(f'{{"key": "rmse", "value": {rng.random():.4f}}}\n')
        store.end_run(run_id, RunStatus.FINISHED, 0, started + i + 1)
    return run_id


def timed(argv: list[str], env: dict, repeat: int) -> float:
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    try:
        store_dir = scratch / "store"
        began = time.perf_counter()
        last = fill(LocalStore(store_dir), args.runs)
        fill_seconds = time.perf_counter() - began
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PROJ_TRACKING_URI=str(store_dir), PROJ_HOME=str(scratch / "home"))
        beside = Path(sys.executable).parent / "proj"  # the proj of this interpreter, not another on PATH
        proj = [str(beside)] if beside.exists() else [sys.executable, "-m", "runner"]
        cases = {
            "proj --version (baseline)": [*proj, "--version"],
            "runs list (first page, 50)": [*proj, "runs", "list"],
            "runs list --format json": [*proj, "runs", "list", "--format", "json"],
            "runs list -P alpha=0.5": [*proj, "runs", "list", "-P", "alpha=0.5"],
            "runs list --metric rmse": [*proj, "runs", "list", "--metric", "rmse"],
            "runs list --experiment exp-3": [*proj, "runs", "list", "--experiment", "exp-3"],
            "runs show <prefix>": [*proj, "runs", "show", last[:8]],
        }
        results = {name: timed(argv, env, args.repeat) for name, argv in cases.items()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    baseline = results["proj --version (baseline)"]
    print(f"{args.runs} runs recorded in {fill_seconds:.1f} s ({args.runs / fill_seconds:.0f} runs/s); "
          f"median of {args.repeat}")
    for name, seconds in results.items():
        print(f"  {name:<32} {seconds * 1000:7.1f} ms   {seconds / baseline:4.2f}x baseline")


if __name__ == "__main__":
    main()
