"""Submission overhead of the Slurm backend: `proj run -b slurm` versus a bare `sbatch --wrap`.

    python bench/bench_slurm.py [--runs 7]

Both submit the same one-line job, which writes the time it started to a file. Measured for each:
  - returned:  from starting the submitting command until it returns (proj: with --detach)
  - started:   from starting the submitting command until the job's command starts
  - completed: until the submitter knows the job ended (proj: attached `proj run`; baseline:
               sbatch, then `scontrol show job` every 0.1 s, proj's first polling interval)
Rounds alternate the two launchers so that a busy shared host hits both alike; medians. Needs
the cluster of scripts/slurm-up.sh (or any cluster whose nodes see this machine's /tmp).
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

SPEC = """name: stamp
entry_points:
  main:
    parameters:
      out: string
    command: "date +%s.%N > {out}"
"""


def proj_command() -> list[str]:
    """The `proj` installed with this interpreter (another on PATH may be an older proj)."""
    script = Path(sys.executable).parent / "proj"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def run(argv: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def started_at(stamp: Path, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = stamp.read_text().strip() if stamp.exists() else ""
        if text:
            return float(text)
        time.sleep(0.01)
    sys.exit(f"the job never wrote {stamp}")


def ended(job_id: str) -> bool:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True).stdout
    return any(f"JobState={state}" in out for state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"))


def bare(work: Path, env: dict, attached: bool) -> tuple[float, float, float | None]:
    stamp = work / f"bare-{time.monotonic_ns()}"
    begin = time.time()
    job_id = run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap", f"date +%s.%N > {stamp}"], work, env)
    returned = time.time() - begin
    if not attached:
        return returned, started_at(stamp) - begin, None
    while not ended(job_id.strip().split(";")[0]):
        time.sleep(0.1)
    completed = time.time() - begin
    return returned, started_at(stamp) - begin, completed


def proj(work: Path, env: dict, attached: bool) -> tuple[float, float, float | None]:
    stamp = work / f"proj-{time.monotonic_ns()}"
    begin = time.time()
    run([*proj_command(), "run", "project", "-b", "slurm", "-P", f"out={stamp}",
         *([] if attached else ["--detach"])], work, env)
    elapsed = time.time() - begin
    if attached:
        return elapsed, started_at(stamp) - begin, elapsed
    return elapsed, started_at(stamp) - begin, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as scratch:
        work = Path(scratch)
        (work / "project").mkdir()
        (work / "project" / "MLproject").write_text(SPEC)
        env = {**os.environ, "PROJ_HOME": str(work / "home")}
        proj(work, env, attached=False)  # warm-up: the store and PROJ_HOME exist from now on
        figures: dict[str, list[tuple]] = {"bare": [], "proj": [], "bare-wait": [], "proj-attached": []}
        for _ in range(args.runs):
            figures["bare"].append(bare(work, env, attached=False))
            figures["proj"].append(proj(work, env, attached=False))
            figures["bare-wait"].append(bare(work, env, attached=True))
            figures["proj-attached"].append(proj(work, env, attached=True))
    report(figures, args.runs)


def report(figures: dict[str, list[tuple]], runs: int) -> None:
    def median(kind: str, column: int) -> float:
        return statistics.median(row[column] for row in figures[kind])

    print(f"medians of {runs} rounds (seconds)")
    print(f"{'':34}{'bare sbatch':>12}{'proj':>10}{'ratio':>8}{'extra':>8}")
    rows = [("submitter returned (--detach)", "bare", "proj", 0),
            ("job started", "bare", "proj", 1),
            ("job started (attached)", "bare-wait", "proj-attached", 1),
            ("submitter saw the job end", "bare-wait", "proj-attached", 2)]
    for label, base, ours, column in rows:
        b, p = median(base, column), median(ours, column)
        print(f"{label:34}{b:12.3f}{p:10.3f}{p / b:7.2f}x{p - b:+8.3f}")


if __name__ == "__main__":
    main()
