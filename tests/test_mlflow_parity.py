"""proj against the real MLflow 3.17.2, wherever MLflow can compute the answer itself.

MLflow runs in its own virtual environment (PROJ_TEST_MLFLOW_PYTHON): a small script there
renders commands with MLflow's own project code, parses URIs, fetches projects, resolves
experiments and reads runs; `mlflow run` itself runs where a whole run is compared. proj runs as
a user runs it. Where the two differ on purpose (docs/mlproject.md, "Where proj differs from
MLflow"), the test shows MLflow's answer and proj's side by side.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import require, run_id_of, run_proj, show_run
from helpers.gitrepo import GitRepo
from helpers.mlflow_server import MLFLOW_VERSION, MlflowServer, mlflow_installed, mlflow_python

pytestmark = pytest.mark.mlflow

# Runs in MLflow's environment: a list of operations on stdin, their answers as JSON on stdout.
MLFLOW_SIDE = r"""
import json, os, sys, tempfile
from mlflow.projects import _project_spec, _resolve_experiment_id
from mlflow.projects.utils import _fetch_project, _parse_subdirectory

def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)

def answer(op):
    if op["op"] == "command":
        os.chdir(op["cwd"])
        entry = _project_spec.load_project(op["dir"]).get_entry_point(op["entry"])
        return entry.compute_command(op["params"], tempfile.mkdtemp(dir=op["storage"]))
    if op["op"] == "subdirectory":
        return list(_parse_subdirectory(op["uri"]))
    if op["op"] == "fetch":
        folder = _fetch_project(op["uri"])
        return {"path": folder, "files": listing(folder)}
    if op["op"] == "experiment":
        for name in ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
            os.environ.pop(name, None)
        os.environ.update(op["env"])
        return _resolve_experiment_id(experiment_name=op.get("name"), experiment_id=op.get("id"))
    if op["op"] == "create_run":
        from mlflow import MlflowClient
        return MlflowClient().create_run(op["experiment_id"]).info.run_id
    raise ValueError(op)

print(json.dumps([answer(op) for op in json.load(sys.stdin)]))
"""


@pytest.fixture(scope="module")
def mlflow_env(tmp_path_factory) -> dict[str, str]:
    """MLflow's interpreter and a tracking server: the shared CI one when it answers, else our own."""
    python = mlflow_python()
    ok, version = mlflow_installed(python)
    require("mlflow", ok, version)
    require("mlflow", version == MLFLOW_VERSION, f"{python} has mlflow {version}, the tests expect {MLFLOW_VERSION}")
    server = None
    url = os.environ.get("PROJ_TEST_MLFLOW_URI", "")
    if not url or not _healthy(url):
        server = MlflowServer(python, tmp_path_factory.mktemp("mlflow-server"))
        server.start()
        url = server.url
    yield {"python": python, "url": url}
    if server is not None:
        server.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


SCRIPT_SHELL = {"SHELL": "/bin/bash"}


def ask_mlflow(mlflow_env: dict[str, str], operations: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    # MLflow leaves its temporary folders behind: they go to the test's folder, not /tmp. SHELL is
    # fixed because MLflow renders `-e run.sh` with it and CI machines may not set it.
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_env["url"], "MLFLOW_TMP_DIR": str(tmp_path),
           "TMPDIR": str(tmp_path), **SCRIPT_SHELL}
    done = subprocess.run([mlflow_env["python"], "-c", MLFLOW_SIDE], input=json.dumps(operations), text=True,
                          capture_output=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _project(folder: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLproject").write_text(spec)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


# --- the rendered command --------------------------------------------------------------------------

SHOW = "printf '[%s]'"
CASES = {
    "quoting": (f"""\
entry_points:
  main:
    parameters:
      greeting: {{type: string, default: hi}}
      name: string
    command: "{SHOW} {{greeting}} {{name}}"
""", "main", {"name": "friend; echo 'hi' $(touch pwned)", "excitement": "10", "two": "a b"}),
    "yaml scalars": (f"""\
entry_points:
  main:
    parameters:
      day: {{type: string, default: 2020-01-01}}
      when: {{type: string, default: 2021-03-04 05:06:07}}
      small: {{type: string, default: 1e-1}}
      half: {{type: float, default: .5}}
      hexa: {{type: int, default: 0x1F}}
      flag: {{type: string, default: yes}}
      empty: {{type: string, default: ""}}
    command: "{SHOW} {{day}} {{when}} {{small}} {{half}} {{hexa}} {{flag}} {{empty}}"
""", "main", {}),
    "path and uri": (f"""\
entry_points:
  main:
    parameters:
      data: path
      where: uri
    command: "{SHOW} {{data}} {{where}} {{{{literal}}}}"
""", "main", {"data": "data.csv", "where": "s3://bucket/key"}),
    "block": (f"""\
entry_points:
  main:
    parameters:
      alpha: {{type: float, default: 0.5}}
    command: |
      echo prepare
      {SHOW} {{alpha}} \\
        end
""", "main", {"alpha": "0.25"}),
    "python script": ("name: scripts\n", "train.py", {"alpha": "0.5", "seed": "3"}),
    "shell script": ("name: scripts\n", "run.sh", {"alpha": "0.5"}),
    "r script": ("name: scripts\n", "train.R", {"alpha": "0.5"}),
}
SCRIPTS = {"train.py": "import sys; print(sys.argv[1:])\n", "run.sh": "echo \"$@\"\n", "train.R": "",
           "data.csv": "x\n"}


@pytest.fixture(scope="module")
def rendered_by_mlflow(mlflow_env, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Every case's folder and the command MLflow renders for it (with a relative path given
    from the folder proj and MLflow are started in)."""
    tmp_path = tmp_path_factory.mktemp("rendered")
    folders = {name: _project(tmp_path / re.sub(r"\W", "-", name), spec, SCRIPTS)
               for name, (spec, _entry, _params) in CASES.items()}
    operations = [{"op": "command", "dir": str(folders[name]), "cwd": str(folders[name]), "entry": entry,
                   "params": params, "storage": str(tmp_path)} for name, (_s, entry, params) in CASES.items()]
    answers = ask_mlflow(mlflow_env, operations, tmp_path)
    return {name: (folders[name], answer) for name, answer in zip(CASES, answers)}


def _proj_command(folder: Path, entry: str, params: dict[str, str], env: dict[str, str] | None = None) -> tuple:
    args = [arg for key, value in params.items() for arg in ("-P", f"{key}={value}")]
    done = run_proj("run", ".", "-e", entry, *args, cwd=folder, env=env)
    return show_run(run_id_of(done), folder)["command"], done


@pytest.mark.parametrize("case", [c for c in CASES if c not in ("block", "r script")])
def test_proj_renders_and_runs_the_command_mlflow_renders(rendered_by_mlflow, case):
    folder, mlflow_command = rendered_by_mlflow[case]
    _spec, entry, params = CASES[case]
    env = SCRIPT_SHELL  # what `-e run.sh` runs with, the same as MLflow's side

    command, done = _proj_command(folder, entry, params, env)

    assert command == mlflow_command
    by_bash = subprocess.run(["bash", "-c", mlflow_command], cwd=folder, capture_output=True, text=True,
                             env={**os.environ, **env})
    assert done.returncode == by_bash.returncode == 0 and done.stdout == by_bash.stdout
    assert not (folder / "pwned").exists()


def test_a_block_command_without_undeclared_parameters_renders_as_mlflow(rendered_by_mlflow):
    folder, mlflow_command = rendered_by_mlflow["block"]
    command, done = _proj_command(folder, "main", {"alpha": "0.25"})
    assert command == mlflow_command and done.stdout == "prepare\n[0.25][end]"


def test_undeclared_parameters_of_a_block_command_reach_the_program_unlike_in_mlflow(mlflow_env, tmp_path):
    folder = _project(tmp_path / "block", CASES["block"][0])
    [mlflow_command] = ask_mlflow(mlflow_env, [{"op": "command", "dir": str(folder), "cwd": str(folder),
                                                "entry": "main", "params": {"seed": "7"},
                                                "storage": str(tmp_path)}], tmp_path)
    by_bash = subprocess.run(["bash", "-c", mlflow_command], cwd=folder, capture_output=True, text=True)
    assert mlflow_command.endswith("end\n --seed 7") and by_bash.returncode == 127  # MLflow's bug

    command, done = _proj_command(folder, "main", {"seed": "7"})

    assert command == mlflow_command.replace("end\n --seed 7", "end --seed 7")  # the one deliberate change
    assert done.returncode == 0 and done.stdout == "prepare\n[0.5][end][--seed][7]"


def test_an_r_script_renders_as_mlflow(rendered_by_mlflow, tmp_path):
    folder, mlflow_command = rendered_by_mlflow["r script"]
    fake = tmp_path / "bin"  # R is not installed here: a stand-in that accepts any arguments
    fake.mkdir()
    (fake / "Rscript").write_text("#!/bin/sh\nexit 0\n")
    (fake / "Rscript").chmod(stat.S_IRWXU)
    command, _done = _proj_command(folder, "train.R", CASES["r script"][2],
                                   {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"})
    assert command == mlflow_command


# --- where the project comes from --------------------------------------------------------------------


def test_quoted_uris_and_subdirectories_are_read_as_mlflow_reads_them(mlflow_env, tmp_path):
    _project(tmp_path / "repo" / "sub", "entry_points: {main: {command: 'pwd'}}\n")
    uris = [f"'{tmp_path / 'repo'}#sub'", f"\"'{tmp_path / 'repo'}#sub'\"", f"{tmp_path / 'repo'}#sub"]
    answers = ask_mlflow(mlflow_env, [{"op": "subdirectory", "uri": uri} for uri in uris], tmp_path)
    for uri, (base, subdirectory) in zip(uris, answers):
        done = run_proj("run", uri, cwd=tmp_path, check_exit=0)
        source = show_run(run_id_of(done), tmp_path)["source"]
        assert (source["uri"], source["subdirectory"]) == (f"{base}#{subdirectory}", subdirectory)
        assert done.stdout.strip() == str(Path(base) / subdirectory)


def test_a_file_url_is_the_working_tree_for_both(mlflow_env, tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": "entry_points: {main: {command: 'cat note.txt'}}\n",
                                              "note.txt": "committed\n"})
    (repo.path / "note.txt").write_text("uncommitted\n")
    [fetched] = ask_mlflow(mlflow_env, [{"op": "fetch", "uri": repo.path.as_uri()}], tmp_path)
    done = run_proj("run", repo.path.as_uri(), cwd=tmp_path, check_exit=0)
    assert show_run(run_id_of(done), tmp_path)["source"]["path"] == fetched["path"] == str(repo.path)
    assert done.stdout == (Path(fetched["path"]) / "note.txt").read_text() == "uncommitted\n"


def test_a_zip_archive_unpacks_to_the_same_files(mlflow_env, tmp_path):
    archive = tmp_path / "project.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("MLproject", "entry_points: {main: {command: 'find . -type f | sort'}}\n")
        bundle.writestr("src/train.py", "print(1)\n")
        bundle.writestr("data/a/b.csv", "x\n")
    [fetched] = ask_mlflow(mlflow_env, [{"op": "fetch", "uri": str(archive)}], tmp_path)
    done = run_proj("run", str(archive), cwd=tmp_path, check_exit=0)
    assert [line.removeprefix("./") for line in done.stdout.split()] == fetched["files"]


# --- experiments and continued runs, on a real server --------------------------------------------


def test_experiments_resolve_as_mlflow_resolves_them(mlflow_env, tmp_path):
    _project(tmp_path / "p", "entry_points: {main: {command: 'true'}}\n")
    named = f"parity-{uuid.uuid4().hex[:8]}"
    by_env = f"parity-env-{uuid.uuid4().hex[:8]}"
    # MLflow creates the named experiments; proj must then find the same ones.
    cases = [{"name": named, "env": {}}, {"env": {"MLFLOW_EXPERIMENT_NAME": by_env}}, {"env": {}}]
    ids = ask_mlflow(mlflow_env, [{"op": "experiment", **case} for case in cases], tmp_path)
    cases += [{"id": ids[0], "env": {}}, {"env": {"MLFLOW_EXPERIMENT_ID": ids[1]}},
              {"env": {"MLFLOW_EXPERIMENT_NAME": named, "MLFLOW_EXPERIMENT_ID": ids[0]}}]
    ids += ask_mlflow(mlflow_env, [{"op": "experiment", **case} for case in cases[3:]], tmp_path)
    for case, expected in zip(cases, ids):
        args = (["--experiment-name", case["name"]] if "name" in case else []) + \
            (["--experiment-id", case["id"]] if "id" in case else [])
        done = run_proj("run", "p", "--tracking-uri", mlflow_env["url"], *args, cwd=tmp_path, env=case["env"],
                        check_exit=0)
        record = show_run(run_id_of(done), tmp_path, "--tracking-uri", mlflow_env["url"])
        assert record["experiment_id"] == expected, case
    assert ids[2] == "0"  # nothing chosen: Default, for both


PRINT_RUN = ("entry_points: {main: {parameters: {a: {type: int, default: 1}}, "
             "command: 'echo run=$MLFLOW_RUN_ID a={a}'}}\n")


def test_a_run_mlflow_created_is_continued_as_mlflow_run_continues_it(mlflow_env, tmp_path):
    folder = _project(tmp_path / "p", PRINT_RUN)
    [experiment] = ask_mlflow(mlflow_env, [{"op": "experiment", "name": f"parity-{uuid.uuid4().hex[:8]}",
                                            "env": {}}], tmp_path)
    for_mlflow, for_proj = ask_mlflow(mlflow_env, [{"op": "create_run", "experiment_id": experiment}] * 2, tmp_path)
    server = MlflowServer(mlflow_env["python"], tmp_path / "unused")
    server.url = mlflow_env["url"]  # only its readers are used

    by_mlflow = subprocess.run([str(Path(mlflow_env["python"]).parent / "mlflow"), "run", str(folder), "--run-id",
                                for_mlflow, "-P", "a=2", "--env-manager", "local"], capture_output=True, text=True,
                               env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_env["url"],
                                    "MLFLOW_TMP_DIR": str(tmp_path), "TMPDIR": str(tmp_path)},
                               cwd=tmp_path, timeout=300)
    by_proj = run_proj("run", str(folder), "--run-id", for_proj, "-P", "a=2", "--tracking-uri", mlflow_env["url"],
                       cwd=tmp_path, check_exit=0)

    assert by_mlflow.returncode == 0, by_mlflow.stderr
    assert f"run={for_mlflow} a=2" in by_mlflow.stdout and by_proj.stdout == f"run={for_proj} a=2\n"
    mlflow_run, proj_run = server.run(for_mlflow), server.run(for_proj)
    assert mlflow_run["info"]["status"] == proj_run["info"]["status"] == "FINISHED"
    assert mlflow_run["info"]["experiment_id"] == proj_run["info"]["experiment_id"] == experiment
    assert len(server.call("runs/search", {"experiment_ids": [experiment]})["runs"]) == 2  # nothing new
    # The deliberate difference: MLflow logs no parameters for a run it continues, proj logs them.
    assert mlflow_run["params"] == {} and proj_run["params"] == {"a": "2"}
