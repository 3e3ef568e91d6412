"""Python environments against MLflow 3: `proj run` and `mlflow run`, same project, same index.

    python bench/bench_python_env.py [--managers uv,virtualenv] [--cold-rounds 1] [--warm-rounds 3]
                                     [--index wheelhouse|pypi] [--mlflow-venv /opt/proj-ci/mlflow-venv]
                                     [--eager]

Both tools run copies of example-projects/mlflow-elasticnet (MLflow's classic style: a conda.yaml
whose pip list holds mlflow and scikit-learn, 88 packages in all), with `--env-manager uv` and
`--env-manager virtualenv` (MLflow's own virtualenv path: pyenv, venv and pip; proj builds both
with uv). The copies pin `python=` to this interpreter's exact version, so that neither tool
tries to download one, and their train.py notes when it starts and ends, so each run splits into
what the tool adds and what the entry point itself takes.

Each round runs every tool once, alternating, so that a shared machine's load falls on both:

    cold   nothing cached: new environment folders and empty package caches
           (proj: PROJ_HOME, UV_CACHE_DIR; mlflow: MLFLOW_ENV_ROOT, UV_CACHE_DIR, PIP_CACHE_DIR)
    warm   the environment the cold run built, run again

Figures (medians): "environment build" is launch to the entry point's first line in a cold run
(the tool's own start-up included); "cold run" and "warm run" are the whole command; "warm
overhead" is a warm run minus the entry point's own time. Ratios are proj / mlflow.

`--eager` adds proj with `UV_COMPILE_BYTECODE=1` (every module compiled at build time, proj's
behaviour before issue 22), so that the cost and the benefit of eager compilation are measured
side by side rather than assumed.

The package index both tools use: `wheelhouse` (default) downloads the resolved wheels once into
~/.cache/proj-bench and points uv and pip at that folder only, so downloads do not add noise;
`pypi` uses whatever index uv and pip are configured with. The script prints a markdown table,
with this command line, ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example-projects" / "mlflow-elasticnet"
PYTHON = ".".join(map(str, sys.version_info[:3]))
EAGER = "proj-eager"  # proj with every module compiled at build time, as before issue 22
ENTRY_ARGS = ("0.01", "0.5")  # alpha, l1_ratio: the example's defaults, as both tools pass them
# Prepended to train.py: when the entry point starts and ends (wall clock). Registered first,
# the exit handler runs after every other one (MLflow's included), then ends the process
# without the interpreter's teardown (seconds for mlflow + scikit-learn on a busy machine, and
# varying), so that the marks cover the entry point's whole life under either tool.
MARKER = (
    "import atexit as _a, os as _o, sys as _s, time as _t\n"
    "_m = _o.environ.get('BENCH_MARKS')\n"
    "_failed = []\n"
    "def _end():\n"
    "    open(_m, 'a').write(f'end {_t.time()}\\n')\n"
    "    _s.stdout.flush(); _s.stderr.flush(); _o._exit(1 if _failed else 0)\n"
    "def _hook(*args, _previous=_s.excepthook):\n"
    "    _failed.append(1); _previous(*args)\n"
    "if _m:\n"
    "    open(_m, 'a').write(f'start {_t.time()}\\n')\n"
    "    _a.register(_end); _s.excepthook = _hook\n")


@dataclass
class Sample:
    total: float
    to_entry: float  # launch until the entry point's first line
    entry: float  # the entry point's own time


@dataclass
class Tool:
    name: str
    argv: list[str]
    env: dict[str, str]
    project: Path
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {"cold": [], "warm": [], "alone": []})

    def run(self, scratch: Path, caches: dict[str, Path]) -> Sample:
        marks = scratch / "marks.txt"
        marks.unlink(missing_ok=True)
        env = {**self.env, **{k: str(v) for k, v in caches.items()}, "BENCH_MARKS": str(marks)}
        started = time.time()
        done = subprocess.run(self.argv, env=env, cwd=scratch, capture_output=True, text=True, check=False)
        total = time.time() - started
        if done.returncode != 0:
            raise SystemExit(f"{shlex.join(self.argv[:6])} failed ({done.returncode}):\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        found = dict(line.split() for line in marks.read_text().splitlines())
        start, end = float(found["start"]), float(found["end"])
        return Sample(total, start - started, end - start)


def find_project(given: Path | None) -> Path:
    project = given or EXAMPLE
    if not (project / "conda.yaml").is_file():
        raise SystemExit(f"{project} has no conda.yaml: this benchmark needs an MLflow-style project")
    return project


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".proj", "mlruns", "mlflow.db", "*.lock"))
    conda = target / "conda.yaml"
    lines = [f"  - python={PYTHON}" if line.strip().startswith("- python") else line
             for line in conda.read_text().splitlines()]
    conda.write_text("\n".join(lines) + "\n")
    train = target / "train.py"
    train.write_text(MARKER + train.read_text())
    return target


def wheelhouse_env(project: Path, scratch: Path) -> dict[str, str]:
    """Every wheel the project needs, downloaded once; uv and pip pointed at that folder only."""
    requirements = "\n".join(sorted(pip_requirements(project))) + "\npip\nsetuptools\nwheel\n"
    digest = hashlib.sha256(f"{PYTHON}\n{requirements}".encode()).hexdigest()[:12]
    house = Path.home() / ".cache" / "proj-bench" / f"wheelhouse-{digest}"
    if not (house / ".complete").exists():
        from uv import find_uv_bin

        house.mkdir(parents=True, exist_ok=True)
        (scratch / "wanted.in").write_text(requirements)
        subprocess.run([find_uv_bin(), "pip", "compile", "-q", "--python", sys.executable, "--no-header",
                        "--no-annotate", str(scratch / "wanted.in"), "-o", str(scratch / "wanted.txt")], check=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "-r", str(scratch / "wanted.txt"), "-d", str(house)], check=True)
        (house / ".complete").touch()
    config = scratch / "uv.toml"
    config.write_text(f'no-index = true\nfind-links = ["{house}"]\n')
    return {"UV_CONFIG_FILE": str(config), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house)}


def pip_requirements(project: Path) -> list[str]:
    import yaml

    spec = yaml.safe_load((project / "conda.yaml").read_text())
    for item in spec.get("dependencies", []):
        if isinstance(item, dict) and "pip" in item:
            return [str(line) for line in item["pip"]]
    raise SystemExit(f"{project / 'conda.yaml'} has no pip: list")


def make_tools(manager: str, project: Path, scratch: Path, base: dict[str, str], mlflow_venv: Path,
               eager: bool) -> list[Tool]:
    mlflow_copy = copy_project(project, scratch / manager / "mlflow-project")
    mlflow = [str(mlflow_venv / "bin" / "mlflow"), "run", str(mlflow_copy), "--env-manager", manager]
    mlflow_env = {**base, "PATH": f"{mlflow_venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"}
    tools = [Tool("mlflow", mlflow, mlflow_env, mlflow_copy)]
    variants = {"proj": {}, **({EAGER: {"UV_COMPILE_BYTECODE": "1"}} if eager else {})}
    for name, extra in variants.items():
        copy = copy_project(project, scratch / manager / f"{name}-project")
        argv = [sys.executable, "-m", "runner", "run", str(copy), "--env-manager", manager]
        tools.append(Tool(name, argv, {**base, **extra}, copy))
    return tools


def caches_for(tool: Tool, folder: Path) -> dict[str, Path]:
    if tool.name != "mlflow":
        return {"PROJ_HOME": folder / "home", "UV_CACHE_DIR": folder / "uv-cache"}
    return {"MLFLOW_ENV_ROOT": folder / "envs", "UV_CACHE_DIR": folder / "uv-cache",
            "PIP_CACHE_DIR": folder / "pip-cache"}


def measure(tools: list[Tool], scratch: Path, cold_rounds: int, warm_rounds: int,
            say: Callable[[str], None]) -> None:
    for index in range(cold_rounds):
        for tool in tools:
            folder = scratch / f"{tool.name}-{index}"
            (folder / "cwd").mkdir(parents=True)
            sample = tool.run(folder / "cwd", caches_for(tool, folder))
            tool.samples["cold"].append(sample)
            say(f"  cold {tool.name}: {sample.total:.1f} s (entry point started at {sample.to_entry:.1f} s)")
    for _ in range(warm_rounds):
        for tool in tools:
            folder = scratch / f"{tool.name}-0"
            sample = tool.run(folder / "cwd", caches_for(tool, folder))
            tool.samples["warm"].append(sample)
            alone = entry_point_alone(tool, folder)
            tool.samples["alone"].append(alone)
            say(f"  warm {tool.name}: {sample.total:.1f} s; its entry point alone {alone.total:.1f} s")


def entry_point_alone(tool: Tool, folder: Path) -> Sample:
    """The entry point run directly with the Python of the environment the tool built."""
    pattern = "envs/*/bin/python" if tool.name == "mlflow" else "home/envs/*/bin/python"  # MLFLOW_ENV_ROOT
    pythons = sorted(folder.glob(pattern))
    alone = Tool(f"{tool.name} entry point", [str(pythons[0]), "train.py", *ENTRY_ARGS],
                 tool.env, tool.project)
    return alone.run(tool.project, {})


def figures(tool: Tool) -> dict[str, float]:
    cold, warm, alone = tool.samples["cold"], tool.samples["warm"], tool.samples["alone"]
    # The entry point's own time: its marks inside the run (what it does under this tool, its
    # MLflow logging included) plus its interpreter's start and teardown, which lie outside the
    # marks and are taken from the same entry point run alone, round by round.
    own = [run.entry + (base.total - base.entry) for run, base in zip(warm, alone)]
    return {
        "environment build (launch to entry point, cold)": statistics.median(s.to_entry for s in cold),
        "cold run (build + run)": statistics.median(s.total for s in cold),
        "warm run": statistics.median(s.total for s in warm),
        "the entry point's own time, in a warm run": statistics.median(own),
        "warm overhead (warm run minus the entry point's own time)":
            statistics.median(run.total - mine for run, mine in zip(warm, own)),
    }


TARGETS = {"environment build (launch to entry point, cold)": "≤ 1.0", "cold run (build + run)": "≤ 0.8",
           "warm overhead (warm run minus the entry point's own time)": "≤ 0.1"}


def report(results: dict[str, list[Tool]], mlflow_version: str, index: str, command: str, load: str) -> None:
    dont = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not set"
    print(f"\n`{command}`  \nMLflow {mlflow_version}, proj {proj_version()}, Python {PYTHON}, "
          f"index: {index}, PYTHONDONTWRITEBYTECODE {dont}, {os.cpu_count()} cores, load average {load}\n")
    names = [tool.name for tool in next(iter(results.values()))]
    heads = {"mlflow": "`mlflow run`", "proj": "`proj run`", EAGER: "`proj run`, `UV_COMPILE_BYTECODE=1`"}
    print("| `--env-manager` | measure | " + " | ".join(heads[name] for name in names) + " | proj / mlflow | target |")
    print("|---|---|" + "---|" * (len(names) + 2))
    for manager, tools in results.items():
        table = {tool.name: figures(tool) for tool in tools}
        for row, theirs in table["mlflow"].items():
            ours = table["proj"][row]
            ratio = f"{ours / theirs:.2f}x" if theirs > 0 else "-"
            cells = " | ".join(f"{table[name][row]:.2f} s" for name in names)
            print(f"| {manager} | {row} | {cells} | {ratio} | {TARGETS.get(row, '')} |")


def proj_version() -> str:
    from importlib.metadata import version

    return version("proj-runner")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--managers", default="uv,virtualenv")
    parser.add_argument("--cold-rounds", type=int, default=1)
    parser.add_argument("--warm-rounds", type=int, default=3)
    parser.add_argument("--index", choices=("wheelhouse", "pypi"), default="wheelhouse")
    parser.add_argument("--mlflow-venv", type=Path, default=Path("/opt/proj-ci/mlflow-venv"))
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--eager", action="store_true",
                        help="also run proj with UV_COMPILE_BYTECODE=1 (every module compiled at build time)")
    args = parser.parse_args()
    project = find_project(args.project)
    mlflow_version = subprocess.run([str(args.mlflow_venv / "bin" / "python"), "-c",
                                     "import importlib.metadata as m; print(m.version('mlflow'))"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-python-env-") as temporary:
        scratch = Path(temporary)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PROJ_", "MLFLOW_", "VIRTUAL_ENV"))}
        base["UV_PYTHON_DOWNLOADS"] = "never"
        if args.index == "wheelhouse":
            base.update(wheelhouse_env(project, scratch))
        results = {}
        for manager in args.managers.split(","):
            print(f"--env-manager {manager} ({project.name})", file=sys.stderr)
            tools = make_tools(manager, project, scratch, base, args.mlflow_venv, args.eager)
            measure(tools, scratch / manager, args.cold_rounds, args.warm_rounds,
                    lambda line: print(line, file=sys.stderr))
            results[manager] = tools
    command = "python bench/bench_python_env.py " + shlex.join(sys.argv[1:])
    report(results, mlflow_version, args.index, command.strip(), f"{load_before} to {load_average()}")


if __name__ == "__main__":
    main()
