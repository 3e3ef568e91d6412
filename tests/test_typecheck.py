"""runner/ type-checks under mypy's strict mode (configured in pyproject.toml), so the README's
test command fails on a type error just as it fails on a broken test."""

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
