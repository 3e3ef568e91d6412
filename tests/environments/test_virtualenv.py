"""Python environments built with uv (and virtualenv + pip), through the real `proj` CLI.

No network: the packages are wheels built inside the test into a folder, and uv and pip are
told to install from that folder only (tests/helpers/wheels.py).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA, diff_of, run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.processes import alive, wait_for
from helpers.wheels import (
    add_embedded_pip,
    build_slow_sdist,
    build_wheel,
)

pytestmark = pytest.mark.uv

PYTHON = platform.python_version()


@pytest.fixture
def project(tmp_path) -> Path:
    target = tmp_path / "greet"
    shutil.copytree(DATA / "python-env-greet", target)
    return target


def envs_folder(home: Path) -> Path:
    return home / "envs"


def env_folders(home: Path) -> list[str]:
    """Every folder in the cache, complete or not (lock files are not folders)."""
    root = envs_folder(home)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def runs(project: Path) -> list[dict]:
    listed = run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout
    return [show(r["run_id"], project) for r in json.loads(listed)]


def show(run_id: str, project: Path) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)


def attachment(project: Path, run_id: str, name: str) -> str:
    from runner.tracking import open_store

    return open_store(str(project / ".proj")).read_attachment(run_id, name).decode()


def test_builds_from_local_wheels_and_records_key_and_lock(wheelhouse, project, isolated_home):
    (project / "python_env.yaml").write_text(
        f'python: "{sys.version_info.major}.{sys.version_info.minor}"\ndependencies:\n  - -r requirements.txt\n')

    result = run_proj("run", ".", "-P", "name=tester", cwd=project, check_exit=0)

    assert "hello tester from tinydep 1.0" in result.stdout  # the console script works after the rename
    assert f"python {PYTHON}" in result.stdout
    [key] = env_folders(isolated_home)
    assert f"prefix {envs_folder(isolated_home) / key}" in result.stdout
    assert "building Python environment" in result.stderr
    [record] = runs(project)
    environment = record["environment"]
    assert (environment["kind"], environment["key"], environment["python"]) == ("virtualenv", key, PYTHON)
    assert environment["lock"] == "python_env.lock"
    assert {"build.log", "python_env.lock"} <= set(record["attachments"])
    lock = attachment(project, record["run_id"], "python_env.lock")
    assert "tinygreet==1.0 \\\n    --hash=sha256:" in lock and "tinydep==1.0 \\\n    --hash=sha256:" in lock
    assert "uv pip sync" in attachment(project, record["run_id"], "build.log")
    text = run_proj("runs", "show", record["run_id"], cwd=project, check_exit=0).stdout
    assert f"key {key}" in text and "lock       python_env.lock" in text


def test_second_run_reuses_the_environment_without_installing(wheelhouse, project, isolated_home):
    started = time.monotonic()
    run_proj("run", ".", cwd=project, check_exit=0)
    first = time.monotonic() - started
    shutil.rmtree(wheelhouse)  # any install work now would fail: nothing left to install from

    started = time.monotonic()
    second = run_proj("run", ".", cwd=project, check_exit=0)
    reuse = time.monotonic() - started

    [key] = env_folders(isolated_home)
    assert f"using Python environment {key}" in second.stderr
    assert "building" not in second.stderr and "hello world from tinydep 1.0" in second.stdout
    latest, earliest = runs(project)
    assert latest["environment"]["key"] == earliest["environment"]["key"] == key
    assert latest["environment"]["details"]["reused"] is True
    assert "build.log" not in latest["attachments"] and "python_env.lock" in latest["attachments"]
    print(f"first run {first:.2f} s, second run {reuse:.2f} s")  # shown with -s; bench/ has the figures


def test_changed_requirements_make_a_new_environment_and_prune_removes_the_old(
        wheelhouse, project, isolated_home):
    run_proj("run", ".", cwd=project, check_exit=0)
    [old] = env_folders(isolated_home)
    build_wheel(wheelhouse, "tinydep", "2.0", {"tinydep/__init__.py": "VALUE = 'tinydep 2.0'\n"})
    (project / "requirements.txt").write_text("tinygreet\ntinydep>=2\n")

    result = run_proj("run", ".", cwd=project, check_exit=0)

    assert "hello world from tinydep 2.0" in result.stdout
    assert len(env_folders(isolated_home)) == 2 and old in env_folders(isolated_home)
    [new] = [name for name in env_folders(isolated_home) if name != old]
    listed = run_proj("env", "list", cwd=project, check_exit=0).stdout
    assert old in listed and new in listed and str(project) in listed
    _age(envs_folder(isolated_home) / old, days=10)

    pruned = run_proj("env", "prune", "--older-than", "5", cwd=project, check_exit=0).stdout

    assert f"removed {old}" in pruned
    assert env_folders(isolated_home) == [new]
    assert run_proj("env", "rm", new[len("virtualenv-"):][:8], check_exit=0).stdout.strip() == f"removed {new}"
    assert "no environments" in run_proj("env", "list", check_exit=0).stdout
    missing = run_proj("env", "rm", "virtualenv-0000", check_exit=USAGE)
    assert "No cached environment matches 'virtualenv-0000'" in missing.stderr


def _age(environment: Path, days: float) -> None:
    """Pretend the environment was last used `days` ago (the marker records it)."""
    marker = environment / ".proj-env.json"
    metadata = json.loads(marker.read_text())
    metadata["last_used"] = metadata["built_at"] = time.time() - days * 86400
    marker.write_text(json.dumps(metadata))


@pytest.mark.slow
def test_parallel_runs_of_a_new_spec_build_it_once(wheelhouse, project, isolated_home):
    count = 6
    children = [subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-P", f"name=run{i}"],
                                 cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(count)]
    outputs = [child.communicate(timeout=300) for child in children]

    assert [child.returncode for child in children] == [0] * count, outputs
    for i, (stdout, _stderr) in enumerate(outputs):
        assert f"hello run{i} from tinydep 1.0" in stdout
    assert sum("building Python environment" in stderr for _stdout, stderr in outputs) == 1
    assert len(env_folders(isolated_home)) == 1
    records = runs(project)
    assert len(records) == count and len({r["environment"]["key"] for r in records}) == 1
    assert sum("build.log" in r["attachments"] for r in records) == 1


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killing_proj_during_a_build_leaves_nothing_a_later_run_uses(
        stop, wheelhouse, project, isolated_home):
    build_slow_sdist(wheelhouse)
    (project / "requirements.txt").write_text("tinygreet\nslowpkg\n")
    building = project.parent / "slowpkg-building"
    child = subprocess.Popen([sys.executable, "-m", "runner", "run", "."], cwd=project,
                             env={**os.environ, "SLOW_BUILD_SECONDS": "60", "SLOW_BUILD_MARKER": str(building)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(building.exists, timeout=60, what="uv to start building slowpkg")
    staging = list(envs_folder(isolated_home).glob(".staging-*"))
    assert child.poll() is None and len(staging) == 1  # in the middle of the build

    child.send_signal(stop)
    _stdout, stderr = child.communicate(timeout=60)

    assert child.returncode in ((-signal.SIGKILL,) if stop == signal.SIGKILL else (130, -signal.SIGINT)), stderr
    assert runs(project) == []  # nothing ran, so nothing was recorded
    assert "no environments" in run_proj("env", "list", check_exit=0).stdout
    if stop == signal.SIGINT:  # proj cleaned up after itself
        assert env_folders(isolated_home) == []
    else:  # proj could not: what it left is never used, and prune (or the next build) removes it
        pruned = run_proj("env", "prune", check_exit=0).stdout
        assert f"removed {staging[0].name}: incomplete" in pruned and env_folders(isolated_home) == []
    later = run_proj("run", ".", cwd=project, env={"SLOW_BUILD_SECONDS": "0"}, check_exit=0)
    assert "hello world from tinydep 1.0" in later.stdout
    assert len(env_folders(isolated_home)) == 1 and not staging[0].exists()
    assert not any(alive(int(pid)) for pid in _uv_pids(isolated_home))


def _uv_pids(home: Path) -> list[str]:
    """uv processes still working on something under this test's PROJ_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(home) in (proc / "cmdline").read_text():
                found.append(proc.name)
        except OSError:
            pass
    return found


def test_interpreter_that_does_not_exist_is_named(wheelhouse, project, isolated_home):
    (project / "python_env.yaml").write_text('python: "3.99"\ndependencies:\n  - tinygreet\n')

    result = run_proj("run", ".", cwd=project, check_exit=SETUP)

    assert "No Python 3.99 found on this machine" in result.stderr
    assert "found: " in result.stderr and PYTHON in result.stderr
    assert "Traceback" not in result.stderr and env_folders(isolated_home) == []


def test_failing_requirement_is_named_with_the_full_output(wheelhouse, project, isolated_home):
    (project / "requirements.txt").write_text("tinygreet\nnosuchpkg==1.0\n")

    result = run_proj("run", ".", cwd=project, check_exit=SETUP)

    assert "Could not install requirement 'nosuchpkg==1.0' (requirements.txt)" in result.stderr
    assert "$ " in result.stderr and "uv pip compile" in result.stderr  # the build output, in full
    assert "no environments" in run_proj("env", "list", check_exit=0).stdout
    assert runs(project) == []


def test_conda_yaml_under_virtualenv_drops_conda_packages_with_a_warning(wheelhouse, tmp_path, isolated_home):
    add_embedded_pip(wheelhouse)
    project = tmp_path / "conda-project"
    shutil.copytree(DATA / "python-env-conda", project)
    conda_yaml = project / "conda.yaml"
    conda_yaml.write_text(conda_yaml.read_text().replace("python=3.11", f"python={PYTHON}"))

    result = run_proj("run", ".", "--env-manager", "virtualenv", cwd=project, check_exit=0)

    assert "leaving out: numpy>=1.20, libgcc-ng" in result.stderr
    assert "hello conda from tinydep 1.0" in result.stdout
    assert "pip " in result.stdout  # pip, a build dependency, was installed into the environment
    [record] = runs(project)
    assert record["environment"]["kind"] == "virtualenv" and record["environment"]["python"] == PYTHON
    assert "pip==" in attachment(project, record["run_id"], "python_env.lock")


def test_committed_lock_is_installed_exactly_and_frozen_needs_one(wheelhouse, project, isolated_home):
    written = run_proj("env", "lock", ".", cwd=project, check_exit=0)
    lock = project / "python_env.lock"
    assert written.stdout.strip() == "wrote python_env.lock" and "tinydep==1.0" in lock.read_text()
    assert env_folders(isolated_home) == []  # locking resolves only; it builds nothing
    build_wheel(wheelhouse, "tinydep", "2.0", {"tinydep/__init__.py": "VALUE = 'tinydep 2.0'\n"})

    locked = run_proj("run", ".", cwd=project, check_exit=0)

    assert "hello world from tinydep 1.0" in locked.stdout  # the lock, not the newest version
    assert "installing exactly the 2 packages of python_env.lock" in locked.stderr
    [record] = runs(project)
    assert record["environment"]["details"]["lock_source"] == "python_env.lock"
    saved = project.parent / "run.lock"
    saved.write_text(attachment(project, record["run_id"], "python_env.lock"))
    lock.unlink()

    resolved = run_proj("run", ".", cwd=project, check_exit=0)
    frozen = run_proj("run", ".", "--frozen", cwd=project, check_exit=SETUP)
    rerun = run_proj("run", ".", "--frozen", "--lock", str(saved), cwd=project, check_exit=0)

    assert "hello world from tinydep 2.0" in resolved.stdout
    assert "--frozen: there is no lock to install for python_env.yaml" in frozen.stderr
    assert "hello world from tinydep 1.0" in rerun.stdout


def test_stale_or_broken_locks_are_reported(wheelhouse, project, isolated_home):
    run_proj("env", "lock", cwd=project, check_exit=0)
    lock = project / "python_env.lock"
    (project / "requirements.txt").write_text("tinygreet\ntinydep\n")

    stale = run_proj("run", ".", cwd=project, check_exit=0)

    assert "python_env.lock was made from a different python_env.yaml" in stale.stderr
    text = lock.read_text()
    digest = text.split("tinydep==1.0 \\\n    --hash=sha256:")[1][:64]
    lock.write_text(text.replace(digest, "0" * 64))
    broken = run_proj("run", ".", cwd=project, check_exit=SETUP)
    assert "Could not install python_env.lock exactly" in broken.stderr
    assert "Hash mismatch" in broken.stderr
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    [greet] = re.findall(r"tinygreet==1.0 \\\n    --hash=sha256:[0-9a-f]{64}\n", text)
    lock.write_text(header + greet)  # tinydep, which tinygreet needs, is missing
    incomplete = run_proj("run", ".", cwd=project, check_exit=SETUP)
    assert "tinydep" in incomplete.stderr and "Could not install python_env.lock exactly" in incomplete.stderr


@pytest.mark.slow
def test_pip_installer_builds_at_the_final_path_and_locks_with_hashes(wheelhouse, project, isolated_home):
    first = run_proj("run", ".", "--installer", "pip", "--verbose", cwd=project, check_exit=0)
    second = run_proj("run", ".", "--installer", "pip", cwd=project, check_exit=0)

    assert "(Python " in first.stderr and ", pip)" in first.stderr
    assert "Successfully installed tinydep-1.0 tinygreet-1.0" in first.stderr  # --verbose: live output
    [key] = env_folders(isolated_home)
    assert f"using Python environment {key}" in second.stderr
    assert "hello world from tinydep 1.0" in second.stdout
    record = runs(project)[-1]
    lock = attachment(project, record["run_id"], "python_env.lock")
    assert "tinydep==1.0 \\\n    --hash=sha256:" in lock and "installer: pip" in lock
    assert record["environment"]["details"]["installer"] == "pip"


def test_verbose_shows_the_build_output_live(wheelhouse, project):
    quiet = run_proj("run", ".", cwd=project, check_exit=0)
    run_proj("env", "prune", "--older-than", "0", check_exit=0)
    verbose = run_proj("run", ".", "--verbose", cwd=project, check_exit=0)

    assert "Resolved 2 packages" not in quiet.stderr
    assert "resolving 1 requirements of python_env.yaml" in quiet.stderr
    assert "Resolved 2 packages" in verbose.stderr


# --- reproduction: run → rerun → diff ------------------------------------------------------


def test_rerun_installs_the_recorded_lock_not_a_newer_release(wheelhouse, project, tmp_path):
    original = run_id_of(run_proj("run", ".", cwd=project, check_exit=0))
    build_wheel(wheelhouse, "tinydep", "2.0", {"tinydep/__init__.py": "VALUE = 'tinydep 2.0'\n"})
    fresh = {"PROJ_HOME": str(tmp_path / "fresh-home")}  # nothing cached: everything is installed again
    result = run_proj("rerun", original, cwd=project, env=fresh, check_exit=0)
    assert "from tinydep 1.0" in result.stdout
    comparison = diff_of(original, run_id_of(result), project)
    assert comparison["identical_inputs"] is True, comparison["changes"]


@pytest.mark.slow
def test_rerun_builds_with_the_installer_the_original_used(wheelhouse, project, tmp_path):
    original = run_id_of(run_proj("run", ".", "--installer", "pip", cwd=project, check_exit=0))
    fresh = {"PROJ_HOME": str(tmp_path / "fresh-home")}
    again = run_id_of(run_proj("rerun", original, cwd=project, env=fresh, check_exit=0))
    environment = show(again, project)["environment"]
    assert environment["options"] == {"installer": "pip"} and environment["details"]["installer"] == "pip"
    assert show(again, project)["reproduction"]["drift"] == []
    comparison = diff_of(original, again, project)
    assert comparison["identical_inputs"] is True, comparison["changes"]


def test_rerun_whose_locked_release_is_gone_fails_or_drifts(wheelhouse, project, tmp_path):
    original = run_id_of(run_proj("run", ".", cwd=project, check_exit=0))
    build_wheel(wheelhouse, "tinydep", "2.0", {"tinydep/__init__.py": "VALUE = 'tinydep 2.0'\n"})
    (wheelhouse / "tinydep-1.0-py3-none-any.whl").unlink()  # the locked release was withdrawn
    fresh = {"PROJ_HOME": str(tmp_path / "fresh-home")}
    refused = run_proj("rerun", original, cwd=project, env=fresh)
    assert refused.returncode == SETUP and f"Cannot reproduce run {original} exactly" in refused.stderr
    drifted = run_proj("rerun", original, "--allow-drift", cwd=project, env=fresh, check_exit=0)
    assert "from tinydep 2.0" in drifted.stdout
    again = run_id_of(drifted)
    assert "environment lock could not be installed" in show(again, project)["reproduction"]["drift"][0]
    packages = [c for c in diff_of(original, again, project)["changes"] if c["section"] == "packages"]
    assert {"section": "packages", "name": "tinydep", "a": "1.0", "b": "2.0", "kind": "changed"} in packages
