"""Fixtures shared by the capture tests: one PROJ_HOME for the session's environment builds."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def capture_home(tmp_path_factory) -> Path:
    """A PROJ_HOME the capture tests share, so each MLflow client's environment is built once."""
    return tmp_path_factory.mktemp("capture-home")
