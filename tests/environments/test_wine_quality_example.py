"""The wine-quality example end to end: a real environment with scikit-learn and pandas.

This is the one online test of Python environments: the packages come from PyPI (CI reaches
it; elsewhere the test is skipped unless PROJ_REQUIRE names `pypi`). The project ships a
python_env.lock, so the versions installed are exactly the ones it lists.
"""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT, require, run_proj
from helpers.mlflow_clients import pypi_reachable
from helpers.wheels import OTHER_INDEX_VARIABLES

pytestmark = [pytest.mark.pypi, pytest.mark.uv, pytest.mark.slow]

EXAMPLE = REPO_ROOT / "example-projects" / "wine-quality"


def test_wine_quality_trains_in_its_own_locked_environment(tmp_path, monkeypatch):
    require("pypi", pypi_reachable(), "https://pypi.org cannot be reached")
    for name in (*OTHER_INDEX_VARIABLES, "UV_CONFIG_FILE", "UV_FIND_LINKS", "PIP_NO_INDEX", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    store = tmp_path / "store"

    result = run_proj("run", str(EXAMPLE), "-P", "alpha=0.2", "--tracking-uri", str(store),
                      timeout=900, check_exit=0)

    assert "Elasticnet model (alpha=0.200000, l1_ratio=0.100000)" in result.stdout
    assert "installing exactly the 12 packages of python_env.lock" in result.stderr
    [listed] = json.loads(run_proj("runs", "list", "--format", "json", "--tracking-uri", str(store),
                                   check_exit=0).stdout)
    record = json.loads(run_proj("runs", "show", listed["run_id"], "--format", "json", "--tracking-uri",
                                 str(store), check_exit=0).stdout)
    assert record["status"] == "FINISHED"
    assert record["environment"]["kind"] == "virtualenv" and record["environment"]["python"].startswith("3.11.")
    assert record["environment"]["details"]["lock_source"] == "python_env.lock"
    assert 0.0 < record["metrics"]["rmse"]["last"] < 1.0
