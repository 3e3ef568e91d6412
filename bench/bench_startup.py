"""How much time `proj` adds: `proj run` of a trivial entry point versus running it directly.

    python bench/bench_startup.py [--runs 30]

Everything is measured in this one invocation, on this machine, so the figures are comparable as
ratios and differences even on a noisy shared host. Bytecode caching is enabled for the measured
processes (some CI images set PYTHONDONTWRITEBYTECODE, which no real installation has), and each
command is run a few times first so that caches are warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = "name: trivial\nentry_points:\n  main:\n    command: \"true\"\n"


def proj_command() -> list[str]:
    beside = Path(sys.executable).parent / "proj"  # the proj of this interpreter, not another on PATH
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "runner"]


def median_seconds(argv: list[str], cwd: Path, env: dict, runs: int) -> float:
    for _ in range(3):
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        (project / "MLproject").write_text(SPEC)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PROJ_HOME"] = str(Path(scratch) / "home")
        env["PROJ_TRACKING_URI"] = str(Path(scratch) / "store")
        proj = proj_command()
        direct = median_seconds(["bash", "-c", "true"], project, env, args.runs)
        python = median_seconds([sys.executable, "-c", "pass"], project, env, args.runs)
        run = median_seconds([*proj, "run", "."], project, env, args.runs)
        validate = median_seconds([*proj, "validate", "MLproject"], project, env, args.runs)
        help_ = median_seconds([*proj, "--help"], project, env, args.runs)
    print(f"median of {args.runs} runs each")
    print(f"  bash -c true (the command run directly)  {direct * 1000:7.1f} ms")
    print(f"  python -c pass (interpreter start)        {python * 1000:7.1f} ms")
    print(f"  proj run . (records the run)              {run * 1000:7.1f} ms")
    print(f"  proj validate MLproject                   {validate * 1000:7.1f} ms")
    print(f"  proj --help                               {help_ * 1000:7.1f} ms")
    print(f"added by proj run: {(run - direct) * 1000:.1f} ms (target <= 150 ms); "
          f"ratio proj run / direct = {run / direct:.1f}x; "
          f"proj run / bare interpreter start = {run / python:.1f}x")


if __name__ == "__main__":
    main()
