"""Conda environments built by py-rattler from a local channel, through the real `proj` CLI.

No network: the fixture channel is built under a temporary folder as `<root>/conda-forge`, and
PROJ_CONDA_CHANNEL_ALIAS points channel names (conda.yaml says `conda-forge`) at `<root>`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import string
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import DATA, REPO_ROOT, diff_of, require, run_id_of, run_proj
from helpers.conda_channel import (
    PREFIX_PLACEHOLDER,
    build_fixture_channel,
    build_package,
    current_subdir,
    index_channel,
)
from helpers.exitcodes import SETUP, USAGE
from runner.environments.condaspec import DEFAULT_CHANNEL_ALIAS, channel_urls, mirrored_url

pytestmark = pytest.mark.conda

EXAMPLE = REPO_ROOT / "example-projects" / "conda-greeting"
LOCKED = DATA / "conda-lock-greet"
PYTHON_XY = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def shared_channels(tmp_path_factory) -> Path:
    """A read-only channel root for tests that do not change the channel."""
    available = all(importlib.util.find_spec(m) for m in ("rattler", "conda_lock"))
    require("conda", available, "py-rattler or conda-lock is not installed")
    root = tmp_path_factory.mktemp("channels")
    build_fixture_channel(root / "conda-forge", with_python=True)
    return root


@pytest.fixture
def channels(shared_channels, tmp_path) -> Path:
    """A private copy of the channel root, for tests that add packages to it."""
    root = tmp_path / "channels"
    shutil.copytree(shared_channels, root)
    return root


def proj(*args: str, cwd: Path, alias: Path, check_exit: int | None = 0, **env: str):
    return run_proj(*args, cwd=cwd, env={"PROJ_CONDA_CHANNEL_ALIAS": str(alias), **env},
                    check_exit=check_exit)


def write_project(folder: Path, conda_yaml: str, command: str = "greet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLproject").write_text(
        f"name: {folder.name}\nconda_env: conda.yaml\nentry_points:\n  main:\n"
        f"    command: {json.dumps(command)}\n")
    (folder / "conda.yaml").write_text(conda_yaml)
    return folder


def conda_yaml(*dependencies: str, channels: tuple[str, ...] = ("conda-forge",), pip=()) -> str:
    lines = ["channels:", *(f"  - {c}" for c in channels), "dependencies:"]
    lines += [f"  - {json.dumps(d)}" for d in dependencies]
    if pip:
        lines += ["  - pip:", *(f"    - {json.dumps(p)}" for p in pip)]
    return "\n".join(lines) + "\n"


def environments(home: Path) -> list[Path]:
    """The complete environments in a PROJ_HOME (the marker is written last)."""
    root = home / "envs"
    return sorted(p for p in root.iterdir() if (p / ".proj-env.json").is_file()) if root.exists() else []


def installed(prefix: Path) -> dict[str, tuple[str, str, str]]:
    """name → (version, build, sha256) from the prefix's conda-meta, as conda would list it."""
    found = {}
    for meta in (prefix / "conda-meta").glob("*.json"):
        data = json.loads(meta.read_text())
        found[data["name"]] = (data["version"], data["build"], data.get("sha256"))
    return found


def only_run(cwd: Path) -> dict:
    runs = json.loads(run_proj("runs", "list", "--format", "json", cwd=cwd, check_exit=0).stdout)
    assert len(runs) >= 1
    return runs[0]  # newest first


def recorded_lock(cwd: Path) -> Path:
    return cwd / ".proj" / "runs" / only_run(cwd)["run_id"] / "conda-lock.yml"


def shipped_lock(channel: Path, **changes: str) -> str:
    """The hand-written conda-lock.yml of tests/data/conda-lock-greet, with real hashes."""
    fields = {"platform": current_subdir()}
    for name in ("greet-tool-1.0", "libgreet-1.0"):
        blob = (channel / "noarch" / f"{name}-0.tar.bz2").read_bytes()
        key = name.rsplit("-", 1)[0].replace("-", "_")
        fields[f"{key}_md5"] = hashlib.md5(blob).hexdigest()
        fields[f"{key}_sha256"] = hashlib.sha256(blob).hexdigest()
    fields.update(changes)
    return string.Template((LOCKED / "conda-lock.yml.in").read_text()).substitute(fields)


def locked_project(tmp_path: Path, lock_text: str) -> Path:
    project = tmp_path / "locked"
    shutil.copytree(LOCKED, project, ignore=shutil.ignore_patterns("*.in"))
    (project / "conda-lock.yml").write_text(lock_text)
    return project


def add_greet_tool(channel: Path, version: str) -> None:
    build_package(channel, "greet-tool", version, depends=["libgreet >=1.0"],
                  files={"bin/greet": f'#!/bin/sh\nP="{PREFIX_PLACEHOLDER}"\necho "greet-tool {version}"\n'},
                  prefix_placeholder_files=["bin/greet"])
    index_channel(channel)


def build_wheel(folder: Path, name: str, version: str) -> Path:
    """A real pure-Python wheel with a console script `hello-wheel`."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"def main():\n    print('{name} {version} says hi')\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: proj-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": f"[console_scripts]\nhello-wheel = {name}:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0)), text)
    return wheel


# --- channel names, mirrors and keys (pure) --------------------------------------------------

@pytest.mark.parametrize(("channel", "alias", "expected"), [
    ("conda-forge", DEFAULT_CHANNEL_ALIAS, ["https://conda.anaconda.org/conda-forge"]),
    ("conda-forge", "file:///srv/mirror/", ["file:///srv/mirror/conda-forge"]),
    ("conda-forge/label/dev", "https://m.example/c/", ["https://m.example/c/conda-forge/label/dev"]),
    ("https://other.example/ch/", "file:///srv/mirror/", ["https://other.example/ch"]),
    ("defaults", DEFAULT_CHANNEL_ALIAS,
     ["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"]),
    ("defaults", "file:///srv/mirror/", ["file:///srv/mirror/defaults"]),
    ("./local-channel", DEFAULT_CHANNEL_ALIAS, ["file:///project/local-channel"]),
])
def test_channel_names_map_through_the_alias_and_urls_stay(channel, alias, expected):
    assert channel_urls(channel, alias, Path("/project")) == expected


def test_lock_urls_on_the_default_alias_are_redirected_to_a_mirror():
    url = "https://conda.anaconda.org/conda-forge/noarch/x-1-0.conda"
    assert mirrored_url(url, "file:///srv/mirror/") == "file:///srv/mirror/conda-forge/noarch/x-1-0.conda"
    assert mirrored_url(url, DEFAULT_CHANNEL_ALIAS) == url
    assert mirrored_url("https://other.example/c/x.conda", "file:///m/") == "https://other.example/c/x.conda"


# --- building, caching, activation ----------------------------------------------------------

def test_example_project_runs_offline_activated_and_is_built_once(shared_channels, tmp_path, isolated_home):
    first = proj("run", str(EXAMPLE), "-P", "name=tester", cwd=tmp_path, alias=shared_channels)
    [prefix] = environments(isolated_home)
    # `greet` comes from the environment, its prefix placeholder was rewritten to the final prefix
    assert f"greet-tool 2.0: hello from {prefix}\n" in first.stdout
    # the activate.d script ran, CONDA_PREFIX is set, and conda.yaml's variables are exported
    assert f"Hello, tester! (activation script ran: 1; prefix: {prefix})" in first.stdout
    assert "solving the conda environment of conda.yaml" in first.stderr
    record = only_run(tmp_path)
    assert record["environment"]["kind"] == "conda" and record["environment"]["key"] == prefix.name
    assert record["environment"]["lock"] == "conda-lock.yml"
    assert record["command"].startswith("greet\necho ")  # recorded as rendered, no activation prelude
    lock_text = recorded_lock(tmp_path).read_text()
    assert "name: greet-tool\n  version: '2.0'" in lock_text and "name: libgreet" in lock_text

    # Same spec again: reused, and neither rattler nor conda_lock is even imported.
    second = proj("run", str(EXAMPLE), cwd=tmp_path, alias=shared_channels, PYTHONPROFILEIMPORTTIME="1")
    assert environments(isolated_home) == [prefix]
    assert "Hello, world!" in second.stdout and "solving" not in second.stderr
    imported = {line.split("|")[-1].strip() for line in second.stderr.splitlines() if "import time:" in line}
    assert "runner.environments.conda" in imported
    assert not {m for m in imported if m.split(".")[0] in ("rattler", "conda_lock")}
    assert recorded_lock(tmp_path).read_text() == lock_text  # the warm run records the same lock


def test_a_changed_spec_builds_a_new_environment_and_formatting_does_not(shared_channels, tmp_path,
                                                                        isolated_home):
    project = write_project(tmp_path / "p", conda_yaml("greet-tool", "greet-env"))
    assert "greet-tool 2.0" in proj("run", str(project), cwd=tmp_path, alias=shared_channels).stdout
    [first] = environments(isolated_home)

    # Reordered, re-spaced and commented: the same normalised spec, the same environment.
    (project / "conda.yaml").write_text("# same thing\nchannels: [conda-forge]\n"
                                        "dependencies: ['greet-env', '  greet-tool ']\n")
    proj("run", str(project), cwd=tmp_path, alias=shared_channels)
    assert environments(isolated_home) == [first]

    (project / "conda.yaml").write_text(conda_yaml("greet-tool ==1.0", "greet-env"))
    changed = proj("run", str(project), cwd=tmp_path, alias=shared_channels)
    assert "greet-tool 1.0" in changed.stdout
    assert len(environments(isolated_home)) == 2


def test_shipped_lock_is_installed_exactly_without_solving(shared_channels, tmp_path, isolated_home):
    lock_text = shipped_lock(shared_channels / "conda-forge")
    project = locked_project(tmp_path, lock_text)
    result = proj("run", str(project), cwd=tmp_path, alias=shared_channels)
    # the channel has greet-tool 2.0 and conda.yaml does not pin it: the lock's 1.0 wins
    assert "greet-tool 1.0: hello from" in result.stdout
    assert "no solve" in result.stderr and "solving" not in result.stderr
    [prefix] = environments(isolated_home)
    assert {n: v[0] for n, v in installed(prefix).items()} == {"greet-tool": "1.0", "libgreet": "1.0"}
    assert recorded_lock(tmp_path).read_text() == lock_text  # recorded as shipped

    run_proj("run", str(project), "--frozen", cwd=tmp_path, check_exit=0,
             env={"PROJ_CONDA_CHANNEL_ALIAS": str(shared_channels)})
    assert environments(isolated_home) == [prefix]  # the lock is part of the key: same environment


def test_recorded_lock_reinstalls_the_same_packages_into_a_fresh_prefix(channels, tmp_path,
                                                                       isolated_home):
    project = write_project(tmp_path / "p", conda_yaml("greet-tool", "greet-env"))
    proj("run", str(project), cwd=tmp_path, alias=channels)
    [original] = environments(isolated_home)
    lock = recorded_lock(tmp_path)
    add_greet_tool(channels / "conda-forge", "3.0")  # a solve from now on picks 3.0

    fresh_home = tmp_path / "fresh-home"
    solved = proj("run", str(project), cwd=tmp_path, alias=channels, PROJ_HOME=str(fresh_home))
    assert "greet-tool 3.0" in solved.stdout  # so the next run's 2.0 can only come from the lock
    relocked = proj("run", str(project), "--lock", str(lock), cwd=tmp_path, alias=channels,
                    PROJ_HOME=str(fresh_home))
    assert "greet-tool 2.0: hello from" in relocked.stdout
    reinstalled = [p for p in environments(fresh_home) if installed(p)["greet-tool"][0] == "2.0"]
    assert len(reinstalled) == 1 and reinstalled[0] != original
    assert installed(reinstalled[0]) == installed(original)  # names, versions, builds, sha256


def test_pip_list_is_installed_with_the_environments_python_and_locked(channels, tmp_path,
                                                                      isolated_home):
    wheels = tmp_path / "wheels"
    wheel = build_wheel(wheels, "hellowheel", "1.0")
    command = ("python -c 'import sys, hellowheel; print(sys.executable); print(hellowheel.__file__)'"
               " && hello-wheel && greet-py")
    yaml = conda_yaml(f"python={PYTHON_XY}", "pip", "greetpy",
                      pip=("--no-index", f"--find-links {wheels}", "hellowheel"))
    project = write_project(tmp_path / "p", yaml, command)
    result = proj("run", str(project), cwd=tmp_path, alias=channels)
    [prefix] = environments(isolated_home)
    executable, module, said, greetpy = result.stdout.splitlines()
    assert executable == f"{prefix}/bin/python"
    assert module == f"{prefix}/lib/python{PYTHON_XY}/site-packages/hellowheel/__init__.py"
    assert said == "hellowheel 1.0 says hi" and greetpy == f"greetpy from {prefix}"
    lock_text = recorded_lock(tmp_path).read_text()
    assert (f"- name: hellowheel\n  version: '1.0'\n  manager: pip\n  platform: {current_subdir()}\n"
            f"  dependencies: {{}}\n  url: {wheel.as_uri()}\n  hash:\n"
            f"    sha256: {hashlib.sha256(wheel.read_bytes()).hexdigest()}\n") in lock_text

    # `proj env lock` resolves the pip list in a real environment: this one, reused.
    proj("env", "lock", str(project), cwd=tmp_path, alias=channels)
    assert "name: hellowheel" in (project / "conda-lock.yml").read_text()
    assert environments(isolated_home) == [prefix]
    (project / "conda-lock.yml").unlink()

    # The lock reinstalls the same wheel, although the wheel folder now offers 2.0.
    build_wheel(wheels, "hellowheel", "2.0")
    again = proj("run", str(project), "--lock", str(recorded_lock(tmp_path)), cwd=tmp_path,
                 alias=channels, PROJ_HOME=str(tmp_path / "fresh-home"))
    assert "hellowheel 1.0 says hi" in again.stdout


def test_python_env_project_runs_under_env_manager_conda(shared_channels, tmp_path, isolated_home):
    project = tmp_path / "py"
    project.mkdir()
    (project / "MLproject").write_text("name: py\npython_env: python_env.yaml\nentry_points:\n"
                                       "  main:\n    command: python -c 'import sys; print(sys.prefix)'\n")
    (project / "python_env.yaml").write_text(f"python: '{PYTHON_XY}'\ndependencies: []\n")
    result = proj("run", str(project), "--env-manager", "conda", cwd=tmp_path, alias=shared_channels)
    [prefix] = environments(isolated_home)
    assert result.stdout.strip() == str(prefix)
    assert only_run(tmp_path)["environment"]["python"].startswith(PYTHON_XY)


def test_env_lock_writes_a_lock_that_later_runs_install(shared_channels, tmp_path, isolated_home):
    from runner.environments.condalock import read_lock

    project = tmp_path / "p"
    (project / "envs").mkdir(parents=True)
    (project / "MLproject").write_text("name: p\nconda_env: envs/conda.yaml\nentry_points:\n"
                                       "  main:\n    command: greet\n")
    (project / "envs" / "conda.yaml").write_text(conda_yaml("greet-tool <2"))
    (project / "envs" / "conda-lock.yml").write_text("not: a lock\n")  # `env lock` solves afresh
    result = proj("env", "lock", str(project), cwd=tmp_path, alias=shared_channels)
    lock_path = project / "envs" / "conda-lock.yml"
    assert f"wrote {lock_path}" in result.stdout
    assert environments(isolated_home) == []  # without a pip: list, a solve is enough
    locked = read_lock(lock_path, current_subdir())
    assert {(p.name, p.version) for p in locked.conda} == {("greet-tool", "1.0"), ("libgreet", "1.0")}
    assert all(p.sha256 and p.md5 and p.url.startswith("file://") for p in locked.conda)

    # The author commits the lock; a later unpinned conda.yaml does not change what runs install.
    (project / "envs" / "conda.yaml").write_text(conda_yaml("greet-tool"))
    assert "greet-tool 1.0" in proj("run", str(project), cwd=tmp_path, alias=shared_channels).stdout


# --- errors: message and exit code through the CLI ------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ERROR_CASES = {
    "unsatisfiable dependency": (
        conda_yaml("conflict-a"), None, SETUP,
        ["cannot be solved", "conflict-a 1.0 would require", "libgreet >=2", "no candidates"]),
    "conflicting constraints": (
        conda_yaml("clash-x", "clash-y"), None, SETUP,
        ["cannot be solved", "clash-x 1.0 would constrain", "clash-y <1"]),
    "unknown channel": (
        conda_yaml("greet-tool", channels=("no-such-channel",)), None, SETUP,
        ["Unknown conda channel file://", "/no-such-channel", "PROJ_CONDA_CHANNEL_ALIAS"]),
    "unreachable channel": (
        conda_yaml("greet-tool", channels=("http://127.0.0.1:{port}/conda-forge",)), None, SETUP,
        ["Cannot reach conda channel http://127.0.0.1:{port}/conda-forge", "Connection refused"]),
    "invalid match spec": (
        conda_yaml("greet-tool >=1,<"), None, USAGE,
        ["'greet-tool >=1,<' is not a valid conda match spec", "conda.yaml"]),
    "lock without this platform": (
        None, {"platform": "osx-arm64"}, SETUP,
        [f"locks no packages for this machine's platform {current_subdir()} (it has osx-arm64)"]),
    "hash mismatch": (
        None, {"libgreet_sha256": "f" * 64}, SETUP,
        ["Hash mismatch for libgreet 1.0", "f" * 64, "/conda-forge/noarch/libgreet-1.0-0.tar.bz2"]),
    "malformed lock": (None, "garbage", USAGE, ["is not a conda-lock file"]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_environment_errors_are_clear(case, shared_channels, tmp_path, isolated_home):
    yaml, lock_changes, exit_code, expected = ERROR_CASES[case]
    port = _free_port()
    if yaml is None:
        if lock_changes == "garbage":
            project = locked_project(tmp_path, "version: 1\npackage: [1, 2\n")
        else:
            project = locked_project(tmp_path, shipped_lock(shared_channels / "conda-forge", **lock_changes))
    else:
        project = write_project(tmp_path / "p", yaml.replace("{port}", str(port)))
    result = proj("run", str(project), cwd=tmp_path, alias=shared_channels, check_exit=exit_code)
    for text in expected:
        assert text.replace("{port}", str(port)) in result.stderr
    assert "Traceback" not in result.stderr
    assert environments(isolated_home) == []
    assert not list((isolated_home / "envs").glob(".staging-*"))  # the failed build left nothing


def test_frozen_without_a_lock_and_a_bad_alias_are_usage_errors(shared_channels, tmp_path):
    project = write_project(tmp_path / "p", conda_yaml("greet-tool"))
    frozen = proj("run", str(project), "--frozen", cwd=tmp_path, alias=shared_channels, check_exit=USAGE)
    assert "--frozen installs only from a lock, and there is no conda-lock.yml" in frozen.stderr
    assert "proj env lock" in frozen.stderr
    missing = proj("run", str(project), "--lock", str(tmp_path / "nope.yml"), cwd=tmp_path,
                   alias=shared_channels, check_exit=USAGE)
    assert "nope.yml: no such file" in missing.stderr
    bad_alias = proj("run", str(project), cwd=tmp_path, alias=tmp_path / "no-mirror", check_exit=USAGE)
    assert "conda channel alias" in bad_alias.stderr and "no-mirror" in bad_alias.stderr
    assert not os.path.exists(tmp_path / ".proj" / "runs") or not any((tmp_path / ".proj" / "runs").iterdir())


# --- reproduction: run → rerun → diff ------------------------------------------------------


def _git_example(tmp_path: Path):
    from helpers.gitrepo import GitRepo

    files = {p.name: p.read_text() for p in EXAMPLE.iterdir() if p.is_file()}
    return GitRepo.create(tmp_path / "repo", files)


def test_rerun_installs_the_recorded_lock_even_when_the_channel_has_moved_on(channels, tmp_path):
    repo = _git_example(tmp_path)
    original = run_id_of(proj("run", repo.url, cwd=tmp_path, alias=channels))
    add_greet_tool(channels / "conda-forge", "3.0")  # a fresh solve would now pick 3.0
    fresh_home = str(tmp_path / "fresh-home")
    result = proj("rerun", original, cwd=tmp_path, alias=channels, PROJ_HOME=fresh_home)
    assert "greet-tool 2.0" in result.stdout
    comparison = diff_of(original, run_id_of(result), tmp_path)
    assert comparison["identical_inputs"] is True, comparison["changes"]
    assert [c for c in comparison["changes"] if c["section"] == "packages"] == []


def test_rerun_with_a_lock_that_no_longer_installs_fails_or_drifts(channels, tmp_path):
    repo = _git_example(tmp_path)
    original = run_id_of(proj("run", repo.url, cwd=tmp_path, alias=channels))
    (channels / "conda-forge" / "noarch" / "greet-tool-2.0-0.tar.bz2").unlink()  # withdrawn
    index_channel(channels / "conda-forge")
    fresh = {"PROJ_HOME": str(tmp_path / "fresh-home")}  # no package cache that still has it
    refused = proj("rerun", original, cwd=tmp_path, alias=channels, check_exit=SETUP, **fresh)
    assert f"Cannot reproduce run {original} exactly" in refused.stderr
    drifted = proj("rerun", original, "--allow-drift", cwd=tmp_path, alias=channels, **fresh)
    assert "greet-tool 1.0" in drifted.stdout
    again = run_id_of(drifted)
    record = json.loads(run_proj("runs", "show", again, "--format", "json", cwd=tmp_path, check_exit=0).stdout)
    assert len(record["reproduction"]["drift"]) == 1
    assert "environment lock could not be installed" in record["reproduction"]["drift"][0]
    packages = [c for c in diff_of(original, again, tmp_path)["changes"] if c["section"] == "packages"]
    assert {"section": "packages", "name": "greet-tool", "a": "2.0", "b": "1.0", "kind": "changed"} in packages


def test_with_dontwritebytecode_a_conda_environment_compiles_its_imports_once(shared_channels, tmp_path,
                                                                            isolated_home, monkeypatch):
    # rattler, unlike conda, compiles no bytecode for `noarch: python` packages: without proj's
    # import hook every run with PYTHONDONTWRITEBYTECODE would compile them again.
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = write_project(tmp_path / "bytecode", conda_yaml(f"python={xy}", "greetpy"),
                            command="python -v -c 'import greetpy'")
    from_source = re.compile(r"code object from '?\S*greetpy/__init__\.py'?$", re.MULTILINE)

    first = proj("run", ".", cwd=project, alias=shared_channels)
    second = proj("run", ".", cwd=project, alias=shared_channels)

    assert from_source.search(first.stdout), first.stdout[-2000:]
    assert not from_source.search(second.stdout)
    assert re.search(r"__init__\.cpython-\d+\.pyc matches \S*greetpy/__init__\.py", second.stdout)


def _phase_seconds(marker: object) -> dict | None:
    """The build's step times, wherever the environment's marker nests them."""
    if isinstance(marker, dict):
        if isinstance(marker.get("phase_seconds"), dict):
            return marker["phase_seconds"]
        return next((found for value in marker.values() if (found := _phase_seconds(value)) is not None), None)
    return None


def test_a_conda_build_times_each_step_in_its_log_and_marker(shared_channels, tmp_path, isolated_home):
    """Issue 22: solve, install (download and extract, link) and lock each timed, so the next slow
    step of a conda build shows in the build log and in the environment's marker."""
    project = write_project(tmp_path / "timed", "channels: [conda-forge]\ndependencies: [greet-tool]\n")
    proj("run", str(project), cwd=tmp_path, alias=shared_channels)
    [prefix] = environments(isolated_home)
    phases = _phase_seconds(json.loads((prefix / ".proj-env.json").read_text()))
    assert phases is not None and {"solve", "install", "download and extract", "link", "lock"} <= set(phases)
    assert all(isinstance(seconds, (int, float)) and seconds >= 0 for seconds in phases.values())
    log = (prefix / ".proj-build.log").read_text()
    assert re.search(r"ready in [\d.]+ s \(solve [\d.]+ s, install [\d.]+ s, download and extract [\d.]+ s, "
                     r"link [\d.]+ s, lock [\d.]+ s\)", log), log
