"""Docker environments: image build (cold, cached) and container start, against the docker CLI.

    python bench/bench_docker.py [--repeat N]

Needs a running daemon and proj-test-python:3.11 (scripts/docker-up.sh,
scripts/build-test-images.sh). Everything is measured in this run, on this machine, and
reported as a ratio to its baseline:

- cold build: proj preparing a project image that does not exist (scan, hash, context tar,
  build) vs `docker build --no-cache` of the same Dockerfile and folder with the CLI;
- cached build: proj preparing an environment whose image exists (scan and hash the project,
  one image lookup) vs `docker build` that hits the daemon's layer cache;
- start: `proj run` of a project whose image exists, command `true`, vs
  `docker run --rm --network none IMAGE true` on the same image; and, for scale, `proj run`
  of `true` in a project without any environment against the same baseline.

Medians of --repeat rounds (default 5), proj and its baseline alternating. Nothing is pulled;
every container uses network none. Prints a markdown table, with this command line.
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

BASE_IMAGE = os.environ.get("PROJ_TEST_DOCKER_IMAGE", "proj-test-python:3.11")
REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example-projects" / "docker-example"


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def paired(repeat: int, proj, baseline, before_proj=lambda: None, before_baseline=lambda: None):
    """Medians of proj and its baseline, sampled alternately so that load hits both alike."""
    proj_samples, baseline_samples = [], []
    for _ in range(repeat):
        before_proj()
        proj_samples.append(timed(proj))
        before_baseline()
        baseline_samples.append(timed(baseline))
    return statistics.median(proj_samples), statistics.median(baseline_samples)


def sh(*argv: str, cwd: Path | None = None, env: dict | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_project(root: Path, name: str) -> Path:
    project = root / "project"
    shutil.copytree(EXAMPLE, project)
    text = (project / "MLproject").read_text().replace("name: docker-example", f"name: {name}")
    (project / "MLproject").write_text(text.replace('command: "python train.py', 'command: "true # python train.py'))
    return project


def proj_prepare(project: Path):
    from runner.environments.docker import DockerEnvironment
    from runner.environments.docker_options import DockerOptions
    from runner.spec import load_project

    environment = DockerEnvironment(load_project(project), DockerOptions())
    return lambda: environment.prepare(lambda message: None)


def remove_label(client, name: str) -> None:
    for image in client.images.list(filters={"label": f"proj.project={name}"}):
        client.images.remove(image.id, force=True)


def remove_tag(client, tag: str) -> None:
    """Remove an image the CLI built, so that repeated builds leave no untagged images behind."""
    import docker

    try:
        client.images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    import docker

    client = docker.from_env()
    client.images.get(BASE_IMAGE)  # fails loudly when the test image is missing
    name = f"bench-docker-{uuid.uuid4().hex[:8]}"
    cli_tag = f"{name}-cli:latest"
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        os.environ["PROJ_HOME"] = str(root / "home")
        env = {**os.environ, "PROJ_DOCKER_NETWORK": "none"}
        project = make_project(root, name)
        cli_context = root / "cli-context"
        shutil.copytree(project, cli_context)
        base_id = client.images.get(BASE_IMAGE).id
        (cli_context / "Dockerfile").write_text(
            f"FROM {base_id}\nCOPY . /mlflow/projects/code/\nWORKDIR /mlflow/projects/code\n")
        try:
            prepare = proj_prepare(project)
            cli_build = ["docker", "build", "-q", "-t", cli_tag, "."]
            results = {
                "build, cold": paired(repeat, prepare, lambda: sh(*cli_build, "--no-cache", cwd=cli_context),
                                      before_proj=lambda: remove_label(client, name),
                                      before_baseline=lambda: remove_tag(client, cli_tag)),
                "build, cached": paired(repeat, prepare, lambda: sh(*cli_build, cwd=cli_context)),
            }
            image = client.images.list(filters={"label": f"proj.project={name}"})[0].id
            docker_run = ["docker", "run", "--rm", "--network", "none", image, "true"]
            store = ["--tracking-uri", str(root / "store")]
            results["start (run `true`)"] = paired(
                repeat, lambda: sh(sys.executable, "-m", "runner", "run", str(project), *store, env=env),
                lambda: sh(*docker_run))
            local = root / "local"
            local.mkdir()
            (local / "MLproject").write_text("entry_points:\n  main:\n    command: 'true'\n")
            results["no environment, for scale"] = paired(
                repeat, lambda: sh(sys.executable, "-m", "runner", "run", str(local), *store, env=env),
                lambda: sh(*docker_run))
            results["import the docker SDK"] = paired(
                repeat, lambda: sh(sys.executable, "-c", "import docker"), lambda: sh(sys.executable, "-c", "pass"))
        finally:
            remove_label(client, name)
            remove_tag(client, cli_tag)
    report(results, repeat)


def report(results: dict, repeat: int) -> None:
    import shlex

    baselines = {"build, cold": "`docker build --no-cache`", "build, cached": "`docker build` (layer cache)",
                 "start (run `true`)": "`docker run --rm`", "no environment, for scale": "`docker run --rm`",
                 "import the docker SDK": "`python -c pass`"}
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"`{shlex.join(['python', 'bench/bench_docker.py', *sys.argv[1:]])}`  \n"
          f"medians of {repeat}, proj and its baseline alternating; {os.cpu_count()} cores, load average {load}\n")
    print("| measure | proj | baseline | ratio |")
    print("|---|---|---|---|")
    for what, (proj, baseline) in results.items():
        print(f"| {what} | {proj * 1000:.0f} ms | {baseline * 1000:.0f} ms ({baselines[what]}) | "
              f"{proj / baseline:.2f}x |")
    start, scale, sdk = (results[key][0] for key in ("start (run `true`)", "no environment, for scale",
                                                     "import the docker SDK"))
    sdk_cost = sdk - results["import the docker SDK"][1]
    docker_run = results["start (run `true`)"][1]
    print(f"\nWhere `proj run` of the docker project goes: proj without an environment {scale * 1000:.0f} ms "
          f"(its own start-up, the record, `true` itself), importing the docker SDK {sdk_cost * 1000:.0f} ms, "
          f"the rest {max(start - scale - sdk_cost, 0) * 1000:.0f} ms (image checks, container create, attach, "
          f"start, wait, remove) against {docker_run * 1000:.0f} ms for the whole of `docker run --rm`.")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
