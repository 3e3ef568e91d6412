"""Bytecode in Python environments: nothing compiled at build time, each run's imports cached.

A build that compiled every module (uv's --compile-bytecode, pip's default) costs seconds for big
packages; these tests fail if a build does it again. Runs must still not recompile their imports
on every start when PYTHONDONTWRITEBYTECODE is set (common in CI and container images).
Offline: the package is a wheel built in the test (tests/helpers/wheels.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conftest import run_proj
from helpers.wheels import add_embedded_pip, build_wheel

pytestmark = pytest.mark.uv

MODULES = 300  # a package with many modules, of which a run imports two
TAG = sys.implementation.cache_tag


@pytest.fixture
def project(tmp_path: Path, wheelhouse: Path) -> Path:
    files = {f"manymod/m{i}.py": f"VALUE = {i}\n" for i in range(MODULES)}
    files["manymod/__init__.py"] = "NAME = 'manymod'\n"
    build_wheel(wheelhouse, "manymod", "1.0", files)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(
        "name: many\npython_env: python_env.yaml\nentry_points:\n  main:\n"
        "    command: \"python -v -c 'import local_code, manymod.m1, manymod.m2; print(manymod.m2.VALUE)'\"\n")
    (folder / "python_env.yaml").write_text(
        f'python: "{sys.version_info.major}.{sys.version_info.minor}"\ndependencies:\n  - manymod\n')
    (folder / "local_code.py").write_text("LOCAL = True\n")  # the project's own module
    return folder


def package_folder(home: Path) -> Path:
    [folder] = (home / "envs").glob("*/lib/*/site-packages/manymod")
    return folder


def cached_modules(home: Path) -> set[str]:
    return {path.name.split(".")[0] for path in (package_folder(home) / "__pycache__").glob(f"*.{TAG}.pyc")}


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_new_environment_holds_bytecode_only_for_what_its_run_imported(
        project, isolated_home, wheelhouse, monkeypatch, installer):
    if installer == "pip":
        add_embedded_pip(wheelhouse)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.delenv("UV_COMPILE_BYTECODE", raising=False)

    result = run_proj("run", ".", "--installer", installer, cwd=project, check_exit=0)

    assert "2" in result.stdout.splitlines()
    # A build that compiled the whole package would leave 301 files here.
    assert cached_modules(isolated_home) == {"__init__", "m1", "m2"}


def test_compiling_everything_at_build_time_is_still_possible(project, isolated_home, monkeypatch):
    monkeypatch.setenv("UV_COMPILE_BYTECODE", "1")  # for an environment that will be read-only

    run_proj("run", ".", cwd=project, check_exit=0)

    assert len(cached_modules(isolated_home)) == MODULES + 1


def test_with_dontwritebytecode_the_first_run_caches_its_imports_and_later_runs_read_them(
        project, isolated_home, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("UV_COMPILE_BYTECODE", raising=False)
    m1 = re.escape(str(Path("manymod") / "m1.py"))
    compiled_from_source = re.compile(rf"code object from '?[^\s']*{m1}'?$", re.MULTILINE)

    first = run_proj("run", ".", cwd=project, check_exit=0)
    assert compiled_from_source.search(first.stdout), first.stdout[-3000:]
    assert cached_modules(isolated_home) == {"__init__", "m1", "m2"}
    pyc = package_folder(isolated_home) / "__pycache__" / f"m1.{TAG}.pyc"
    written = pyc.stat().st_mtime_ns

    second = run_proj("run", ".", cwd=project, check_exit=0)
    third = run_proj("run", ".", cwd=project, check_exit=0)

    for later in (second, third):
        assert not compiled_from_source.search(later.stdout)
        assert re.search(rf"m1\.{TAG}\.pyc matches \S*{m1}", later.stdout), later.stdout[-3000:]
    assert pyc.stat().st_mtime_ns == written  # read, never written again
    # Outside the environment the user's setting holds: the project folder gets no bytecode.
    assert not (project / "__pycache__").exists()
