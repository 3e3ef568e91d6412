"""runner/ type-checks under mypy's strict mode and the code lints clean under ruff (both configured
in pyproject.toml), so the README's test command fails on a type error or a lint finding just as it
fails on a broken test."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


def test_mypy_reports_no_errors_in_runner() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: install the test extra (pip install -e '.[test]')")
    # No arguments: the files and the strictness come from [tool.mypy] in pyproject.toml.
    checked = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=600)
    report = checked.stdout + checked.stderr
    assert checked.returncode == 0, f"mypy found type errors in runner/:\n{report}"
    assert "Success: no issues found" in report


def test_ruff_reports_nothing_in_the_code_tests_and_benchmarks() -> None:
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    checked = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "runner", "tests", "bench"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, f"ruff found problems:\n{checked.stdout}{checked.stderr}"
    assert "All checks passed!" in checked.stdout


def test_no_module_is_exempt_from_the_type_check() -> None:
    """The only per-module settings allowed are for third-party libraries without type
    information; no module of runner/ may switch errors off."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: tomli is a dependency there
        import tomli as tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True and config["files"] == ["runner"]
    for override in config.get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        assert set(override) == {"module", "ignore_missing_imports"}, override
        assert not any(m == "runner" or m.startswith("runner.") for m in modules), override
