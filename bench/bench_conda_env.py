"""Conda environments: solve + install time for the fixture channel, cold and warm.

    python bench/bench_conda_env.py [--runs 5]

Builds the test fixture channel (tests/helpers/conda_channel.py, with its Python package) as
`<tmp>/channels/conda-forge` and points the channel alias at it, so nothing touches the network.
The spec asks for greet-tool, greet-env, python, greetpy and pip (6 packages with libgreet).

In-process, the library calls a build makes (median of --runs):
    solve          rattler solve (a new Gateway each time, as proj does)
    install cold   into a new prefix, empty package cache (extract + link)
    install warm   into a new prefix, package cache filled (hard links)
    lock           conda-lock.yml rendering (the first call, which imports conda_lock, separately)
End to end, `proj run` of an entry point that runs `greet` (median of --runs):
    baseline       the same command in a project without an environment (local)
    cold           a fresh PROJ_HOME: solve, extract, install, lock, then run
    warm cache     environments removed, package cache kept
    warm           the environment is ready
Everything is measured in this one invocation; ratios are against the baseline of this run.
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

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

XY = f"{sys.version_info.major}.{sys.version_info.minor}"
CONDA_YAML = ("channels: [conda-forge]\ndependencies:\n  - greet-tool\n  - greet-env\n"
              f"  - python={XY}\n  - greetpy\n  - pip\n")
MLPROJECT = "name: {name}\n{env}entry_points:\n  main:\n    command: \"{command}\"\n"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def library_figures(project: Path, scratch: Path, runs: int) -> dict[str, float]:
    from runner.environments import condasolve
    from runner.environments.condalock import render_lock
    from runner.environments.condaspec import conda_spec
    from runner.spec import load_project

    spec = conda_spec(load_project(project), os.environ["PROJ_CONDA_CHANNEL_ALIAS"])
    solves, cold, warm, records = [], [], [], []
    for index in range(runs):
        solves.append(timed(lambda: records.append(condasolve.solve(spec, scratch / "repodata"))))
        pkgs = scratch / f"pkgs-{index}"
        for sink, name in ((cold, "cold"), (warm, "warm")):
            final = scratch / f"env-{name}-{index}"
            staging = scratch / f".staging-{name}-{index}"
            start = time.perf_counter()
            condasolve.install(records[-1], staging, final, pkgs)
            sink.append(time.perf_counter() - start)
            os.rename(staging, final)
    locked = condasolve.locked_from_records(records[-1])

    def lock() -> bytes:
        return render_lock(platform=spec.platform, channels=spec.channels, source="conda.yaml",
                           content_hash="bench", packages=locked)

    first_lock = timed(lock)
    locks = [timed(lock) for _ in range(runs)]
    return {"packages": len(records[-1]), "solve": median_ms(solves), "install cold": median_ms(cold),
            "install warm": median_ms(warm), "lock (first, with import)": first_lock * 1000,
            "lock": median_ms(locks)}


def cli_seconds(project: Path, cwd: Path, env: dict, before=None) -> float:
    if before is not None:
        before()
    argv = [sys.executable, "-m", "runner", "run", str(project)]
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def cli_figures(project: Path, local: Path, scratch: Path, runs: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PROJ_TRACKING_URI"] = str(scratch / "store")
    home = scratch / "home"
    env["PROJ_HOME"] = str(home)

    def fresh() -> None:
        shutil.rmtree(home, ignore_errors=True)

    def no_envs() -> None:
        shutil.rmtree(home / "envs", ignore_errors=True)

    cli_seconds(local, scratch, env)  # warm the interpreter's own caches
    samples: dict[str, list[float]] = {"baseline": [], "cold": [], "warm cache": [], "warm": []}
    for _ in range(runs):  # interleaved, so that a busy moment of the host hits every kind alike
        samples["baseline"].append(cli_seconds(local, scratch, env))
        samples["cold"].append(cli_seconds(project, scratch, env, fresh))
        record_phases("cold", home)
        samples["warm cache"].append(cli_seconds(project, scratch, env, no_envs))
        record_phases("warm cache", home)
        samples["warm"].append(cli_seconds(project, scratch, env))
    return {name: median_ms(values) for name, values in samples.items()}


PHASES: dict[str, dict[str, list[float]]] = {"cold": {}, "warm cache": {}}


def record_phases(kind: str, home: Path) -> None:
    """The time of each build step, as the build recorded it in the environment's marker."""
    import json

    [marker] = home.glob("envs/*/.proj-env.json")
    for phase, seconds in json.loads(marker.read_text()).get("phase_seconds", {}).items():
        PHASES[kind].setdefault(phase, []).append(seconds)


def print_phases(runs: int) -> None:
    names = list(dict.fromkeys([*PHASES["cold"], *PHASES["warm cache"]]))
    print(f"\nbuild steps inside `proj run` (median of {runs}; download and extract overlaps link)\n")
    print("| step | cold (empty package cache) | warm package cache |")
    print("|---|---|---|")
    for name in names:
        cells = [f"{median_ms(PHASES[kind][name]):.0f} ms" if PHASES[kind].get(name) else "-"
                 for kind in ("cold", "warm cache")]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


def write_project(folder: Path, env: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "MLproject").write_text(MLPROJECT.format(name=folder.name, env=env, command="greet"))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from tests.helpers.conda_channel import build_fixture_channel

    with tempfile.TemporaryDirectory(prefix="bench-conda-") as folder:
        scratch = Path(folder)
        build_fixture_channel(scratch / "channels" / "conda-forge", with_python=True)
        os.environ["PROJ_CONDA_CHANNEL_ALIAS"] = str(scratch / "channels")
        os.environ["PROJ_HOME"] = str(scratch / "lib-home")
        project = write_project(scratch / "conda-project", "conda_env: conda.yaml\n",
                                {"conda.yaml": CONDA_YAML})
        # The baseline runs the same `greet`, found on PATH from a prefix built once here.
        local = write_project(scratch / "local-project", "", {})
        library = library_figures(project, scratch, args.runs)
        os.environ["PATH"] = f"{scratch / 'env-warm-0' / 'bin'}:{os.environ['PATH']}"
        cli = cli_figures(project, local, scratch, args.runs)
    print(f"fixture channel, {library['packages']} packages; median of {args.runs} runs each")
    print("library calls")
    for name in ("solve", "install cold", "install warm", "lock", "lock (first, with import)"):
        print(f"  {name:28} {library[name]:8.1f} ms")
    print("proj run (ratio to the baseline: a project without an environment)")
    for name in ("baseline", "cold", "warm cache", "warm"):
        print(f"  {name:28} {cli[name]:8.1f} ms   {cli[name] / cli['baseline']:5.2f}x"
              f"   +{cli[name] - cli['baseline']:7.1f} ms")
    print_phases(args.runs)


if __name__ == "__main__":
    main()
