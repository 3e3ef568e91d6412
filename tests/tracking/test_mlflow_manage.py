"""Run management and searches on a real MLflow server (CI's, at PROJ_TEST_MLFLOW_URI): filters
the server checks and those proj checks, pages, tags, names, descriptions, delete and restore
through the REST API, as the server itself then holds them."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import USAGE
from helpers.mlflow_server import MlflowServer

pytestmark = pytest.mark.mlflow

TRAIN = """\
import json, os, sys
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "w") as out:
    out.write(json.dumps({"key": "rmse", "value": float(sys.argv[1])}) + "\\n")
sys.exit(int(sys.argv[2]))
"""
SPEC = """\
name: served
entry_points:
  main:
    parameters: {alpha: {type: float, default: 0.5}, code: {type: int, default: 0}}
    command: "python train.py {alpha} {code}"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> MlflowServer:
    return MlflowServer.provisioned(tmp_path_factory.mktemp("server-manage"))


@pytest.fixture(scope="module")
def served(server: MlflowServer, tmp_path_factory) -> tuple[Path, str, dict[str, str]]:
    """Four runs in an experiment of their own, and a sweep of two: folder, experiment, ids by name."""
    folder = tmp_path_factory.mktemp("served") / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "train.py").write_text(TRAIN)
    experiment = f"manage-{uuid.uuid4().hex[:10]}"
    ids = {}
    for name, alpha, code, tags in (("a", "0.1", "0", ["team=vision"]), ("b", "0.3", "0", ["team=nlp"]),
                                    ("c", "0.6", "3", ["team=vision"]), ("d", "0.9", "0", [])):
        args = [option for tag in tags for option in ("--tag", tag)]
        done = _proj(server, folder, "run", ".", "--experiment-name", experiment, "--run-name", name,
                     "-P", f"alpha={alpha}", "-P", f"code={code}", *args, check_exit=int(code))
        ids[name] = run_id_of(done)
    sweep = _proj(server, folder, "run", ".", "--experiment-name", experiment, "--sweep", "alpha=0.2,0.4",
                  "--tag", "team=sweep")
    ids["sweep"] = re.search(r"sweep ([0-9a-f]{32})", sweep.stderr).group(1)
    return folder, experiment, ids


def _proj(server: MlflowServer, folder: Path, *args: str, check_exit: int = 0):
    return run_proj(*args, "--tracking-uri", server.url, cwd=folder, check_exit=check_exit)


def _names(server: MlflowServer, served, *args: str) -> list[str]:
    folder, experiment, _ = served
    done = _proj(server, folder, "runs", "list", "-x", experiment, "--format", "json", *args)
    return [r["run_name"] for r in json.loads(done.stdout)]


@pytest.mark.parametrize(("expression", "expected"), [
    ("metrics.rmse < 0.5 and tags.team = 'vision'", ["a"]),  # all on the server
    ("tags.team LIKE 'vis%'", ["c", "a"]),
    ("params.alpha = '0.3'", ["b"]),
    ("params.alpha > 0.2 and params.alpha < 0.7 and tags.team != 'sweep'", ["c", "b"]),  # numbers: here
    ("exit_code != 0", ["c"]),  # proj's attribute: here
    ("status = 'FAILED'", ["c"]),
    ("status = 'FINISHED' and tags.team IS NULL", ["d"]),
    ("run_name IN ('a', 'd')", ["d", "a"]),
    ("entry_point = 'main' and tags.team = 'nlp'", ["b"]),
])
def test_filters_on_the_server(server, served, expression: str, expected: list[str]) -> None:
    assert _names(server, served, "--filter", expression) == expected


def test_pages_sorts_and_sweeps_on_the_server(server, served) -> None:
    folder, experiment, ids = served
    first = _proj(server, folder, "runs", "list", "-x", experiment, "-m", "rmse", "-n", "2")
    assert "4 more; use --limit/--offset" in first.stderr
    assert [row.split()[0] for row in first.stdout.splitlines()[1:]][0] == ids["a"][:12]  # the lowest rmse
    assert _names(server, served, "-m", "rmse", "-n", "2", "--offset", "4") == ["c", "d"]
    assert _names(server, served, "--sort", "tags.team desc", "--filter", "tags.team != 'sweep'") == ["c", "a", "b"]
    swept = _names(server, served, "--sweep", ids["sweep"][:5])
    assert len(swept) == 2 and _names(server, served, "--filter", f"sweep_id = '{ids['sweep']}'") == swept


def test_tags_names_and_descriptions_on_the_server(server, served) -> None:
    folder, _experiment, ids = served
    run_id = ids["d"]
    _proj(server, folder, "runs", "tag", run_id, "team=audio", "stage=try")
    _proj(server, folder, "runs", "tag", run_id, "--remove", "stage")
    _proj(server, folder, "runs", "rename", run_id, "d-renamed", "--description", "kept for the report")
    held = server.run(run_id)
    assert held["tags"]["team"] == "audio" and "stage" not in held["tags"]
    assert held["info"]["run_name"] == "d-renamed" and held["tags"]["mlflow.runName"] == "d-renamed"
    assert held["tags"]["mlflow.note.content"] == "kept for the report"  # where MLflow's UI shows it
    shown = json.loads(_proj(server, folder, "runs", "show", run_id, "--format", "json").stdout)
    assert (shown["tags"], shown["run_name"], shown["description"]) == (
        {"team": "audio"}, "d-renamed", "kept for the report")
    assert _names(server, served, "--filter", "tags.team = 'audio'") == ["d-renamed"]
    bad = _proj(server, folder, "runs", "tag", run_id, "mlflow.runName=x", check_exit=USAGE)
    assert "are reserved" in bad.stderr


def test_delete_and_restore_on_the_server(server, served) -> None:
    folder, _experiment, ids = served
    run_id = ids["b"]
    _proj(server, folder, "runs", "delete", run_id[:10])
    assert server.run(run_id)["info"]["lifecycle_stage"] == "deleted"
    assert "b" not in _names(server, served) and _names(server, served, "--deleted") == ["b"]
    shown = json.loads(_proj(server, folder, "runs", "show", run_id, "--format", "json").stdout)
    assert shown["deleted"] is True and shown["status"] == "FINISHED"
    collected = _proj(server, folder, "gc", "--dry-run", "--env-idle", "100000")
    assert "the server removes them itself (`mlflow gc`" in collected.stderr and run_id not in collected.stdout
    continued = _proj(server, folder, "run", ".", "--run-id", run_id, check_exit=USAGE)
    assert "is deleted" in continued.stderr
    _proj(server, folder, "runs", "restore", run_id[:10])
    assert server.run(run_id)["info"]["lifecycle_stage"] == "active"
    assert "b" in _names(server, served) and _names(server, served, "--deleted") == []
