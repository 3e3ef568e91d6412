"""Python environments: proj (uv) versus `mlflow run --env-manager virtualenv`, cold and warm.

    python bench/bench_python_env.py [--runs 3] [--cold-runs 1] [--mlflow-venv /opt/proj-ci/mlflow-venv]

Both tools run the same copy of example-projects/wine-quality (scikit-learn and pandas from
PyPI; the copy has no python_env.lock, so both resolve, and pins `python:` to the exact version
of this interpreter, because MLflow's virtualenv manager hands a partial version to
`pyenv install`, which would try to download the newest patch release). Each figure is the wall
time of the whole command, median of the runs (interleaved: each round runs every tool):

    cold             nothing cached: a new environment folder and an empty package cache
                     (proj: PROJ_HOME and UV_CACHE_DIR; MLflow: MLFLOW_ENV_ROOT and PIP_CACHE_DIR)
    new env          a new environment folder, the package cache filled by the cold runs
                     (a project whose spec changed)
    warm             the environment exists (every run after the first)
    baseline         the entry point alone, run with the environment's python: what neither
                     tool can save; "environment time" = figure - baseline

`proj-nobc` is proj with UV_COMPILE_BYTECODE=0 (no bytecode compiled at build time).

Ratios are MLflow / proj, measured in this one invocation. MLflow's virtualenv manager needs
`pyenv` on PATH and the requested Python already installed by pyenv (it never downloads here
because the version is installed); without them only proj is measured and the reason is shown.
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
from pathlib import Path
from typing import ClassVar

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "example-projects" / "wine-quality"
PYTHON = ".".join(map(str, sys.version_info[:3]))


def prepare_project(scratch: Path) -> Path:
    project = scratch / "wine-quality"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("python_env.lock", ".proj", "mlruns"))
    env_file = project / "python_env.yaml"
    env_file.write_text(env_file.read_text().replace('python: "3.11"', f'python: "{PYTHON}"'))
    return project


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


class Proj:
    name = "proj"
    extra_env: ClassVar[dict[str, str]] = {}

    def __init__(self, project: Path, scratch: Path) -> None:
        self.project, self.scratch = project, scratch

    def run(self, env_root: Path, package_cache: Path) -> float:
        env = {**os.environ, **self.extra_env, "PROJ_HOME": str(env_root), "UV_CACHE_DIR": str(package_cache)}
        argv = [sys.executable, "-m", "runner", "run", str(self.project), "-P", f"data={self.data}",
                "--tracking-uri", str(self.scratch / "proj-store")]
        return timed(argv, env, self.scratch)

    @property
    def data(self) -> Path:
        return self.project / "data" / "wine-quality.csv"

    def environment_python(self, env_root: Path) -> Path:
        [built] = [p for p in (env_root / "envs").iterdir() if p.is_dir() and not p.name.startswith(".")]
        return built / "bin" / "python"


class ProjWithoutBytecode(Proj):
    """proj with UV_COMPILE_BYTECODE=0: faster builds, slower imports when Python cannot write
    bytecode itself (PYTHONDONTWRITEBYTECODE set, or a read-only cache)."""

    name = "proj-nobc"
    extra_env: ClassVar[dict[str, str]] = {"UV_COMPILE_BYTECODE": "0"}


class Mlflow(Proj):
    name = "mlflow"

    def __init__(self, project: Path, scratch: Path, venv: Path) -> None:
        super().__init__(project, scratch)
        self.venv = venv

    def run(self, env_root: Path, package_cache: Path) -> float:
        env = {**os.environ, "MLFLOW_ENV_ROOT": str(env_root), "PIP_CACHE_DIR": str(package_cache),
               "MLFLOW_TRACKING_URI": f"sqlite:///{self.scratch / 'mlflow.db'}",
               "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        argv = [str(self.venv / "bin" / "mlflow"), "run", str(self.project), "--env-manager", "virtualenv",
                "-P", f"data={self.data}"]
        return timed(argv, env, self.scratch)


def mlflow_unavailable(venv: Path) -> str | None:
    if not (venv / "bin" / "mlflow").exists():
        return f"no MLflow at {venv} (scripts/mlflow-up.sh creates it)"
    if shutil.which("pyenv") is None:
        return "MLflow's virtualenv manager needs pyenv on PATH, and there is none"
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip()
    if not (Path(root) / "versions" / PYTHON).is_dir():
        return f"pyenv has no Python {PYTHON} installed; MLflow would try to download it"
    return None


def measure(tools: list[Proj], scratch: Path, runs: int, cold_runs: int) -> tuple[dict, float]:
    """Every kind of figure for every tool, interleaved round by round, so that the load of a
    shared machine falls on each tool alike. Returns the figures and the baseline."""
    samples: dict[str, dict[str, list[float]]] = {t.name: {"cold": [], "new env": [], "warm": []} for t in tools}
    for index in range(cold_runs):
        for tool in tools:
            shutil.rmtree(scratch / f"{tool.name}-caches", ignore_errors=True)
            samples[tool.name]["cold"].append(tool.run(scratch / f"{tool.name}-cold-{index}",
                                                       scratch / f"{tool.name}-caches"))
    for index in range(runs):
        for tool in tools:
            samples[tool.name]["new env"].append(tool.run(scratch / f"{tool.name}-new-{index}",
                                                          scratch / f"{tool.name}-caches"))
    base = []
    for _ in range(runs):
        base.append(baseline(tools[0], scratch))
        for tool in tools:
            samples[tool.name]["warm"].append(tool.run(scratch / f"{tool.name}-new-0",
                                                       scratch / f"{tool.name}-caches"))
    figures = {name: {row: statistics.median(values) for row, values in rows.items()}
               for name, rows in samples.items()}
    return figures, statistics.median(base)


def baseline(tool: Proj, scratch: Path) -> float:
    python = tool.environment_python(scratch / "proj-new-0")
    argv = [str(python), "train.py", "0.5", "0.1", "--data", str(tool.data)]
    return timed(argv, dict(os.environ), tool.project)


def report(figures: dict[str, dict[str, float]], base: float, why_not: str | None) -> None:
    bytecode = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not set"
    print(f"Python {PYTHON}; wine-quality (scikit-learn, pandas); PYTHONDONTWRITEBYTECODE {bytecode}")
    print(f"baseline: the entry point alone in the built environment {base:.2f} s")
    names = list(figures)
    print(f"{'':9}" + "".join(f"{name + ' s':>12}" for name in names)
          + ("  mlflow/proj" if "mlflow" in figures else ""))
    for row in ("cold", "new env", "warm"):
        line = f"{row:9}" + "".join(f"{figures[name][row]:12.2f}" for name in names)
        if "mlflow" in figures:
            line += f"  {figures['mlflow'][row] / figures['proj'][row]:10.1f}x"
        print(line)
    print("environment time (figure - baseline):")
    for row in ("cold", "new env", "warm"):
        print(f"{row:9}" + "".join(f"{max(figures[name][row] - base, 0.0):12.2f}" for name in names))
    if why_not:
        print(f"mlflow not measured: {why_not}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each warm figure (median)")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold runs (each downloads everything)")
    parser.add_argument("--mlflow-venv", type=Path, default=Path("/opt/proj-ci/mlflow-venv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-python-env-") as temporary:
        scratch = Path(temporary)
        project = prepare_project(scratch)
        tools = [Proj(project, scratch), ProjWithoutBytecode(project, scratch)]
        why_not = mlflow_unavailable(args.mlflow_venv)
        if why_not is None:
            tools.append(Mlflow(project, scratch, args.mlflow_venv))
        figures, base = measure(tools, scratch, args.runs, args.cold_runs)
        report(figures, base, why_not)


if __name__ == "__main__":
    main()
