"""What a PyPI user gets: the wheel and sdist contents and metadata, the light install (a fresh
virtual environment with only the base dependencies, from PyPI) and the pre-commit hook as the
README tells people to add it."""

from __future__ import annotations

import email
import json
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from helpers.exitcodes import SETUP
from helpers.figures import record_figure
from runner import __version__

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
HEAVY = {"docker", "py-rattler", "conda-lock", "starlette", "uvicorn", "jinja2"}


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "-o", str(out),
                    str(REPO_ROOT)], check=True, capture_output=True, timeout=600)
    return {"wheel": next(out.glob("proj_runner-*.whl")), "sdist": next(out.glob("proj_runner-*.tar.gz"))}


def test_the_wheel_carries_the_license_schemas_and_metadata(dists):
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = email.message_from_bytes(wheel.read(f"proj_runner-{__version__}.dist-info/METADATA"))
    assert f"proj_runner-{__version__}.dist-info/licenses/LICENSE" in names
    assert "runner/schemas/run-card.schema.json" in names and "runner/schemas/mlproject.schema.json" in names
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)
    assert metadata["License-Expression"] == "MIT"
    assert {"Repository", "Documentation", "Issues"} <= {url.split(",")[0] for url in metadata.get_all("Project-URL")}
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.10" in classifiers and "Typing :: Typed" in classifiers
    base = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not {re.split(r"[<>=;\[ ]", r)[0] for r in base} & HEAVY  # the light install
    assert set(metadata.get_all("Provides-Extra")) >= {"conda", "docker", "ui", "all", "test"}


def test_the_sdist_holds_what_builds_and_tests_proj_and_nothing_else(dists):
    with tarfile.open(dists["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"LICENSE", "README.md", "pyproject.toml", "runner/__init__.py", "schemas/run-card.schema.json",
                "docs/ci.md", "docs/exit-codes.md", "tests/conftest.py", "tests/test_packaging.py",
                "action.yml", "ci/gitlab/proj.gitlab-ci.yml", ".pre-commit-hooks.yaml",
                "example-projects/mlflow-elasticnet/MLproject", "scripts/test-all.sh", "bench/bench_install.py"}
    assert expected <= names, expected - names
    assert not [n for n in names if "__pycache__" in n or n.startswith((".proj/", "test-artifacts/", ".git/"))]


def readme_pre_commit_config() -> str:
    """The `.pre-commit-config.yaml` the README tells people to write, as it stands there."""
    readme = (REPO_ROOT / "README.md").read_text()
    snippet = re.search(r"```yaml\n(repos:\n.*?)```", readme, re.DOTALL)
    assert snippet, "the README's pre-commit snippet"
    return snippet.group(1)


def test_the_readme_snippet_names_the_repository_and_the_release_tag():
    (entry,) = yaml.safe_load(readme_pre_commit_config())["repos"]
    assert entry["repo"] == PYPROJECT["project"]["urls"]["Repository"]
    assert entry["rev"] == f"v{__version__}"  # releases are tagged v + the version in runner/version.py
    hooks = {hook["id"] for hook in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {hook["id"] for hook in entry["hooks"]} <= hooks


def _fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    return where / "bin"


@pytest.mark.pypi
@pytest.mark.uv
def test_the_light_install_validates_runs_with_uv_and_names_missing_extras(dists, tmp_path):
    bin_folder = _fresh_venv(tmp_path / "venv")
    started = time.perf_counter()
    subprocess.run([str(bin_folder / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(dists["wheel"])], check=True, timeout=900)
    record_figure("light_install", {"seconds": round(time.perf_counter() - started, 1)})
    installed = subprocess.run([str(bin_folder / "python"), "-m", "pip", "list", "--format", "freeze"], check=True,
                               capture_output=True, text=True).stdout.lower()
    assert "proj-runner==" in installed and not {line.split("==")[0] for line in installed.split()} & HEAVY
    env = {"PATH": f"{bin_folder}:/usr/bin:/bin", "HOME": str(tmp_path), "PROJ_HOME": str(tmp_path / "home")}

    def proj(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_folder / "proj"), *args], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=600, check=False, stdin=subprocess.DEVNULL)

    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: light\npython_env: python_env.yaml\nentry_points:\n  main:\n"
                                       "    command: 'python -c \"import sys; print(sys.prefix)\"'\n")
    (project / "python_env.yaml").write_text('python: "3.11"\n')
    assert proj(project, "validate", "--strict").returncode == 0
    ran = proj(project, "run", ".", "--env-manager", "uv")
    assert ran.returncode == 0 and str(tmp_path / "home") in ran.stdout, ran.stderr  # its own environment
    local = proj(project, "run", ".", "--env-manager", "local", "--format", "json")
    assert local.returncode == 0 and json.loads(local.stdout)["status"] == "FINISHED", local.stderr
    assert str(bin_folder.parent) in local.stderr  # the program ran with proj's own python: no environment built
    (project / "conda.yaml").write_text("name: light\ndependencies: [python=3.11]\n")
    kinds = {"conda": "conda_env: conda.yaml", "docker": "docker_env: {image: 'busybox:latest'}", "ui": ""}
    for extra, section in kinds.items():
        (project / "MLproject").write_text(f"name: light\n{section}\nentry_points:\n  main:\n    command: 'true'\n")
        missing = proj(project, *(["ui"] if extra == "ui" else ["run", "."]))
        assert missing.returncode == SETUP and f"needs the {extra} extra" in missing.stderr, missing.stderr
        assert f"pip install 'proj-runner[{extra}]'" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.pypi
@pytest.mark.git
def test_the_pre_commit_hook_installs_the_light_proj_and_checks_mlproject_files(tmp_path):
    clone = tmp_path / "proj"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", f"v{__version__}"], check=True)
    project = tmp_path / "project"
    project.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "--quiet"], cwd=project, check=True)
    config = readme_pre_commit_config()  # the README's snippet, its repository this clone of proj
    (project / ".pre-commit-config.yaml").write_text(config.replace(PYPROJECT["project"]["urls"]["Repository"],
                                                                     str(clone)))
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: 'echo {missing}'\n")
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_CACHE_DIR": "1"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=project, env=env, check=True,
                   capture_output=True, timeout=900)
    record_figure("pre_commit_install_hooks", {"seconds": round(time.perf_counter() - started, 1)})
    hook_python = next((tmp_path / "pre-commit-home").glob("repo*/py_env-*/bin/python"))
    installed = subprocess.run([str(hook_python), "-m", "pip", "list", "--format", "freeze"], check=True,
                               capture_output=True, text=True).stdout.lower()
    assert "proj-runner==" in installed and not {line.split("==")[0] for line in installed.split()} & HEAVY
    started = time.perf_counter()
    bad = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    record_figure("pre_commit_run", {"seconds": round(time.perf_counter() - started, 2)})  # each commit's cost
    assert bad.returncode == 1 and "placeholder '{missing}' names no parameter" in bad.stdout
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: 'echo hi'\n")
    good = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stdout
