"""Recording a run on an MLflow server: `proj run` versus `mlflow run --env-manager local`.

    python bench/bench_mlflow.py [--runs 10] [--tracking-uri URL] [--mlflow PATH]

Both launchers run the same trivial project (one `echo`, no environment to build) and record
it on the same MLflow tracking server, each in an experiment of its own. The figure of merit is
the ratio of their median wall times, measured in this one invocation, alternating the two so
that a noisy shared host affects both alike. Defaults: the server in $PROJ_TEST_MLFLOW_URI (else
http://127.0.0.1:5055) and the `mlflow` next to $PROJ_TEST_MLFLOW_PYTHON (else the CI venv's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SPEC = """name: trivial
entry_points:
  main:
    parameters:
      name: {type: string, default: world}
    command: "echo hello {name}"
"""
DEFAULT_PYTHON = "/opt/proj-ci/mlflow-venv/bin/python"


def proj_command() -> list[str]:
    found = shutil.which("proj")
    return [found] if found else [sys.executable, "-m", "runner"]


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tracking-uri", default=os.environ.get("PROJ_TEST_MLFLOW_URI", "http://127.0.0.1:5055"))
    mlflow_python = os.environ.get("PROJ_TEST_MLFLOW_PYTHON", DEFAULT_PYTHON)
    parser.add_argument("--mlflow", default=str(Path(mlflow_python).parent / "mlflow"))
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        (project / "MLproject").write_text(SPEC)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PROJ_TRACKING_URI")}
        env.update(PROJ_HOME=str(Path(scratch) / "home"), MLFLOW_TRACKING_URI=args.tracking_uri)
        proj = [*proj_command(), "run", ".", "-P", "name=bench", "--env-manager", "local",
                "--experiment-name", f"bench-proj-{tag}"]
        mlflow = [args.mlflow, "run", ".", "-P", "name=bench", "--env-manager", "local",
                  "--experiment-name", f"bench-mlflow-{tag}"]
        for argv in (proj, mlflow):  # warm caches (bytecode, the experiment's creation)
            timed(argv, project, env)
        proj_times, mlflow_times = [], []
        for _ in range(args.runs):
            proj_times.append(timed(proj, project, env))
            mlflow_times.append(timed(mlflow, project, env))
    proj_median, mlflow_median = statistics.median(proj_times), statistics.median(mlflow_times)
    print(f"server {args.tracking_uri}; median of {args.runs} runs each (min .. max)")
    print(f"  proj run --env-manager local          {proj_median * 1000:7.0f} ms "
          f"({min(proj_times) * 1000:.0f} .. {max(proj_times) * 1000:.0f})")
    print(f"  mlflow run --env-manager local        {mlflow_median * 1000:7.0f} ms "
          f"({min(mlflow_times) * 1000:.0f} .. {max(mlflow_times) * 1000:.0f})")
    print(f"  ratio mlflow / proj                   {mlflow_median / proj_median:7.1f} x")


if __name__ == "__main__":
    main()
