"""How much time `proj` adds: `proj run` of a trivial entry point versus the interpreter's start.

    python bench/bench_startup.py [--runs 30] [--python PATH]

Everything is measured in this one invocation, the commands alternating round by round, so the
figures compare as ratios even on a noisy shared host. Each command is timed twice: wall time,
and CPU time (user + system, of the process and the children it waited for), which a busy
machine disturbs much less. Bytecode caching is enabled for the measured processes (some CI
images set PYTHONDONTWRITEBYTECODE, which no real installation has); three rounds run first so
that caches are warm.

`--python` picks the interpreter that runs proj, for instance one of a virtual environment
without system site-packages (`.pth` files of a system installation can add tens of
milliseconds to every interpreter start, which would flatter the ratio). The script prints a
markdown table, with this command line, ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = "name: trivial\nentry_points:\n  main:\n    command: \"true\"\n"
TARGET = 8.0  # proj run / interpreter start (docs/benchmarks.md)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv (CPU: the process and its waited-for children)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def measure(commands: dict[str, list[str]], cwd: Path, env: dict[str, str],
            runs: int) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_ in range(runs + 3):
        for name, argv in commands.items():
            sample = timed(argv, cwd, env)
            if round_ >= 3:
                samples[name].append(sample)
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs proj")
    args = parser.parse_args()
    python = args.python
    proj = [python, "-m", "runner"]
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        (project / "MLproject").write_text(SPEC)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PROJ_HOME"] = str(Path(scratch) / "home")
        env["PROJ_TRACKING_URI"] = str(Path(scratch) / "store")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # this checkout's proj
        commands = {
            "`bash -c true` (the command run directly)": ["bash", "-c", "true"],
            "`python -c pass` (interpreter start)": [python, "-c", "pass"],
            "`python -c 'import runner'` (what a project pays to log)": [python, "-c", "import runner"],
            "`proj run .` (fetch, validate, record, run, record the end)": [*proj, "run", "."],
            "`proj validate MLproject`": [*proj, "validate", "MLproject"],
            "`proj --help`": [*proj, "--help"],
        }
        results = measure(commands, project, env, args.runs)
    report(results, args)


def report(results: dict[str, tuple[float, float]], args: argparse.Namespace) -> None:
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    command = shlex.join(["python", "bench/bench_startup.py", *sys.argv[1:]])
    print(f"`{command}`  \nmedians of {args.runs} rounds, {os.cpu_count()} cores, load average {load}\n")
    names = list(results)
    python_wall, python_cpu = results[names[1]]
    print("| command | wall | CPU | CPU / interpreter start |")
    print("|---|---|---|---|")
    for name, (wall, cpu) in results.items():
        print(f"| {name} | {wall * 1000:.1f} ms | {cpu * 1000:.1f} ms | {cpu / python_cpu:.1f}x |")
    run_wall, run_cpu = results[names[3]]
    print(f"\n`proj run` / interpreter start: {run_cpu / python_cpu:.1f}x by CPU time, "
          f"{run_wall / python_wall:.1f}x by wall time (target <= {TARGET:.0f}x)")


if __name__ == "__main__":
    main()
