"""What installing proj costs: the light install against the extras and against the old full one.

    python bench/bench_install.py [--rounds 1] [--skip-pre-commit]

Builds proj's wheel from this checkout, then for each variant makes a fresh virtual environment
(no system site-packages) and times `pip install WHEEL[extras]` from PyPI twice: with an empty
pip cache (what a CI job without a cache pays: downloads included) and with the cache the first
install filled (a developer's machine). It reports the time, the number of distributions and
the size the install adds to the environment. `[conda,docker]` is what `pip install proj-runner`
installed before conda and docker became extras.

Then it times the pre-commit hook the README describes: `pre-commit install-hooks` against a
clone of this checkout tagged as the release tag, with an empty PRE_COMMIT_HOME (what the first
`git commit` after adding the hook costs). Prints markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = [("light", ""), ("[conda]", "conda"), ("[docker]", "docker"), ("[ui]", "ui"),
            ("before: [conda,docker]", "conda,docker"), ("[all]", "all")]


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build_wheel(out: Path) -> Path:
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(REPO)])
    return next(out.glob("proj_runner-*.whl"))


def install(wheel: Path, extras: str, scratch: Path, cache: Path) -> tuple[float, int, int]:
    """Seconds, distributions added and bytes added by installing `wheel[extras]` in a fresh venv."""
    venv = scratch / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    before_size = folder_size(venv)
    before = set(run([python, "-m", "pip", "list", "--format", "freeze"]).stdout.split())
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    started = time.perf_counter()
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--cache-dir", str(cache), target])
    seconds = time.perf_counter() - started
    after = set(run([python, "-m", "pip", "list", "--format", "freeze"]).stdout.split())
    return seconds, len(after - before), folder_size(venv) - before_size


def bench_installs(wheel: Path, rounds: int) -> list[str]:
    rows = ["| install | cold cache (s) | warm cache (s) | distributions | size added (MB) |", "|---|---|---|---|---|"]
    for label, extras in VARIANTS:
        colds, warms = [], []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="proj-bench-install-") as scratch:
                cache = Path(scratch) / "pip-cache"
                cold, count, size = install(wheel, extras, Path(scratch), cache)
                warm, _, _ = install(wheel, extras, Path(scratch), cache)
                colds.append(cold)
                warms.append(warm)
        rows.append(f"| `pip install proj-runner{'' if not extras else '[' + extras + ']'}` ({label}) | "
                    f"{min(colds):.1f} | {min(warms):.1f} | {count} | {size / 1e6:.0f} |")
    return rows


def bench_pre_commit(scratch: Path) -> str:
    """Seconds for `pre-commit install-hooks` with the README's hook and an empty PRE_COMMIT_HOME:
    without a pip cache (a CI job), and again with the cache the first install filled."""
    import runner

    tool = scratch / "tool"
    run([sys.executable, "-m", "venv", str(tool)])
    run([str(tool / "bin" / "python"), "-m", "pip", "install", "--quiet", "pre-commit"])
    clone = scratch / "proj-clone"
    run(["git", "clone", "--quiet", str(REPO), str(clone)])
    tag = f"v{runner.__version__}"
    run(["git", "-C", str(clone), "tag", "-f", tag])
    project = scratch / "project"
    project.mkdir()
    run(["git", "init", "--quiet", str(project)])
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {clone}\n  rev: {tag}\n  hooks:\n    - id: proj-validate\n")
    times = []
    for round_ in ("cold", "warm"):
        env = {**os.environ, "PRE_COMMIT_HOME": str(scratch / f"pre-commit-home-{round_}"),
               "PIP_CACHE_DIR": str(scratch / "pip-cache")}
        started = time.perf_counter()
        run([str(tool / "bin" / "pre-commit"), "install-hooks"], cwd=project, env=env)
        times.append(time.perf_counter() - started)
    return (f"`pre-commit install-hooks` (the README's proj-validate hook, empty PRE_COMMIT_HOME): "
            f"{times[0]:.1f} s with an empty pip cache, {times[1]:.1f} s with a warm one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--skip-pre-commit", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proj-bench-") as scratch:
        wheel = build_wheel(Path(scratch))
        print(f"python bench/bench_install.py --rounds {args.rounds}  (Python {sys.version.split()[0]})\n")
        print("\n".join(bench_installs(wheel, args.rounds)))
        if not args.skip_pre_commit:
            print("\n" + bench_pre_commit(Path(scratch)))


if __name__ == "__main__":
    main()
