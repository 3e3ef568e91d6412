"""`proj run` where it must behave as `mlflow run` does (or, where MLflow is broken, deliberately not).

Every test runs the `proj` command as a user would. Comparisons computed by a real MLflow are in
tests/test_mlflow_parity.py.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import SETUP, USAGE
from helpers.gitrepo import GitRepo

ARGV = "import sys; print(sys.argv[1:])"


def _project(folder: Path, spec: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLproject").write_text(spec)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


# --- YAML values MLflow reads as text ----------------------------------------------------------

DATES = f"""\
name: 42
entry_points:
  main:
    parameters:
      day: {{type: string, default: 2020-01-01}}
      since: {{type: string, default: 2021-03-04 05:06:07}}
    command: "python3 -c '{ARGV}' {{day}} {{since}}"
"""


def test_a_date_default_and_a_numeric_name_run_as_mlflow_renders_them(tmp_path):
    project = _project(tmp_path / "dates", DATES)
    done = run_proj("run", ".", cwd=project, check_exit=0)
    assert done.stdout == "['2020-01-01', '2021-03-04 05:06:07']\n"
    record = show_run(run_id_of(done), project)
    assert record["run_name"] == "42:main"
    assert [p["value"] for p in record["parameters"]] == ["2020-01-01", "2021-03-04 05:06:07"]
    assert run_proj("validate", ".", cwd=project).returncode == 0


def test_a_name_keeps_its_source_text(tmp_path):
    project = _project(tmp_path / "n", "name: 1.10\nentry_points: {main: {command: 'true'}}\n")
    assert run_proj("info", ".", cwd=project, check_exit=0).stdout.startswith("project      1.10\n")


# --- -P names close to a declared one -------------------------------------------------------------

TYPO = f"""\
entry_points:
  main:
    parameters:
      lr: {{type: float, default: 0.1}}
    command: "python3 -c '{ARGV}' {{lr}}"
"""


def test_a_near_miss_parameter_name_is_passed_on_with_a_warning(tmp_path):
    project = _project(tmp_path / "typo", TYPO)
    done = run_proj("run", ".", "-P", "lrr=0.5", "-P", "seed=3", cwd=project, check_exit=0)
    assert done.stdout == "['0.1', '--lrr', '0.5', '--seed', '3']\n"
    assert ("warning: Parameter 'lrr' is not declared by entry point 'main' and is passed as --lrr; "
            "did you mean 'lr'?") in done.stderr
    assert "seed" not in done.stderr.split("command:")[0]  # not close to anything: no warning


def test_a_near_miss_parameter_name_is_an_error_under_strict(tmp_path):
    project = _project(tmp_path / "typo", TYPO)
    done = run_proj("run", ".", "-P", "lrr=0.5", "--strict", cwd=project, check_exit=USAGE)
    assert "did you mean 'lr'?" in done.stderr
    assert run_proj("runs", "list", cwd=project, check_exit=0).stdout.strip() == "no runs"


def test_a_sweep_over_a_near_miss_name_says_which_was_meant(tmp_path):
    project = _project(tmp_path / "typo", TYPO)
    done = run_proj("run", ".", "--sweep", "lrr=1,2", "--dry-run", cwd=project, check_exit=0)
    assert "--sweep lrr: entry point 'main' declares no such parameter" in done.stderr
    assert "did you mean 'lr'?" in done.stderr


# --- block commands: undeclared -P reach the program (MLflow runs them as their own line) ---------

BLOCK = f"""\
entry_points:
  main:
    parameters:
      alpha: {{type: float, default: 0.5}}
    command: |
      echo preparing
      python3 -c '{ARGV}' \\
        --alpha {{alpha}}
"""


def test_undeclared_parameters_reach_the_program_of_a_block_command(tmp_path):
    project = _project(tmp_path / "block", BLOCK)
    done = run_proj("run", ".", "-P", "seed=7", cwd=project, check_exit=0)
    assert done.stdout == "preparing\n['--alpha', '0.5', '--seed', '7']\n"
    command = show_run(run_id_of(done), project)["command"]
    assert command == f"echo preparing\npython3 -c '{ARGV}' \\\n  --alpha 0.5 --seed 7"


# --- script entry points: R through Rscript ------------------------------------------------------

# A stand-in for R (not installed here, and R's mlflow package cannot be fetched offline): it
# prints the arguments it was given, which is what this test is about.
FAKE_RSCRIPT = "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done; echo\n"


def test_an_r_script_entry_point_runs_through_rscript_as_mlflow(tmp_path):
    project = tmp_path / "r"
    project.mkdir()
    (project / "train.R").write_text("print('never run by the fake')\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "Rscript").write_text(FAKE_RSCRIPT)
    (bin_dir / "Rscript").chmod(stat.S_IRWXU)

    done = run_proj("run", ".", "-e", "train.R", "-P", "alpha=0.5", cwd=project,
                    env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, check_exit=0)

    assert done.stdout == "[-e][mlflow::mlflow_source('train.R')][--args][--alpha][0.5]\n"
    assert show_run(run_id_of(done), project)["command"] == \
        "Rscript -e \"mlflow::mlflow_source('train.R')\" --args --alpha 0.5"


def test_an_r_script_name_the_shell_would_expand_is_refused(tmp_path):
    (tmp_path / "$(touch pwned).R").write_text("")
    done = run_proj("run", ".", "-e", "$(touch pwned).R", cwd=tmp_path, check_exit=USAGE)
    assert "an R script name may only use" in done.stderr and not (tmp_path / "pwned").exists()


def test_a_missing_r_script_is_named(tmp_path):
    done = run_proj("run", ".", "-e", "absent.R", cwd=tmp_path, check_exit=USAGE)
    assert "does not exist" in done.stderr


# --- URIs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("quoted", ["'{path}#sub'", "\"'{path}#sub'\"", "\"{path}#sub\""])
def test_a_quoted_uri_is_unquoted_as_mlflow_does(tmp_path, quoted):
    _project(tmp_path / "repo" / "sub", f"entry_points: {{main: {{command: \"python3 -c '{ARGV}' sub\"}}}}\n")
    done = run_proj("run", quoted.format(path=tmp_path / "repo"), cwd=tmp_path, check_exit=0)
    assert done.stdout == "['sub']\n"
    assert show_run(run_id_of(done), tmp_path)["source"]["uri"] == f"{tmp_path / 'repo'}#sub"


def test_a_file_url_of_a_working_tree_runs_the_folder_as_mlflow_does(tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": "entry_points: {main: {command: 'cat note.txt'}}\n",
                                              "note.txt": "committed\n"})
    (repo.path / "note.txt").write_text("uncommitted\n")  # MLflow runs this; a checkout would not

    done = run_proj("run", repo.path.as_uri(), cwd=tmp_path, check_exit=0)

    assert done.stdout == "uncommitted\n"
    source = show_run(run_id_of(done), tmp_path)["source"]
    assert (source["kind"], source["path"], source["commit"], source["dirty"]) == \
        ("local", str(repo.path), repo.head(), True)


def test_a_file_url_of_a_bare_repository_is_fetched_with_git(tmp_path):
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": "entry_points: {main: {command: 'cat note.txt'}}\n",
                                              "note.txt": "committed\n"})
    bare = tmp_path / "bare.git"
    repo.git("clone", "--quiet", "--bare", str(repo.path), str(bare))
    done = run_proj("run", bare.as_uri(), cwd=tmp_path, check_exit=0)
    assert done.stdout == "committed\n"
    assert show_run(run_id_of(done), tmp_path)["source"]["kind"] == "git"


# --- backends MLflow has and proj does not --------------------------------------------------------


@pytest.mark.parametrize("backend, where", [("kubernetes", "a Kubernetes cluster"), ("databricks", "Databricks")])
def test_mlflows_remote_backends_say_what_proj_offers_instead(tmp_path, backend, where):
    _project(tmp_path, "entry_points: {main: {command: 'true'}}\n")
    done = run_proj("run", ".", "-b", backend, cwd=tmp_path, check_exit=USAGE)
    assert f"proj does not run projects on {where} (MLflow's -b {backend})" in done.stderr
    assert "-b slurm" in done.stderr and "docs/plugins.md" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_local_backend_refuses_a_backend_config_file(tmp_path):
    _project(tmp_path / "p", "entry_points: {main: {command: 'true'}}\n")
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": 2}))
    done = run_proj("run", "p", "-c", str(tmp_path / "cluster.json"), cwd=tmp_path, check_exit=USAGE)
    assert "The local backend takes no --backend-config" in done.stderr


# --- tracking URIs only MLflow itself can write -------------------------------------------------


@pytest.mark.parametrize("uri, message", [
    ("databricks", "proj cannot record runs in Databricks"),
    ("databricks://my-profile", "proj cannot record runs in Databricks"),
    ("databricks-uc", "proj cannot record runs in Databricks"),
    ("sqlite:///mlflow.db", "proj cannot record runs in MLflow's database directly"),
    ("postgresql+psycopg2://ann:s3cret@db.example/mlflow", "proj cannot record runs in MLflow's database directly"),
    ("mysql://db.example/mlflow", "proj cannot record runs in MLflow's database directly"),
    ("mssql://db.example/mlflow", "proj cannot record runs in MLflow's database directly"),
])
@pytest.mark.parametrize("given_as", ["option", "MLFLOW_TRACKING_URI", "PROJ_TRACKING_URI"])
def test_tracking_uris_proj_cannot_serve_are_refused(tmp_path, uri, message, given_as):
    _project(tmp_path, "entry_points: {main: {command: 'echo ran'}}\n")
    args = ["--tracking-uri", uri] if given_as == "option" else []
    env = {given_as: uri} if given_as != "option" else {}
    done = run_proj("run", ".", *args, cwd=tmp_path, env=env, check_exit=USAGE)
    assert message in done.stderr and done.stdout == ""
    origin = f"--tracking-uri {uri}" if given_as == "option" else f"{given_as}={uri}"
    assert origin.replace("s3cret", "***") in done.stderr and "s3cret" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MLproject"]  # no folder named after the URI
    listed = run_proj("runs", "list", *args, cwd=tmp_path, env=env, check_exit=USAGE)
    assert message in listed.stderr


# --- --dry-run refuses what a run would refuse, with the same exit code -------------------------


@pytest.mark.parametrize("args, code, message", [
    (["-b", "nope"], USAGE, "Unknown backend 'nope'"),
    (["-b", "kubernetes"], USAGE, "proj does not run projects on a Kubernetes cluster"),
    (["-c", '{"x": 1}'], USAGE, "The local backend takes no --backend-config"),
    (["-b", "slurm", "-c", '{"partition": 5}'], USAGE, "Invalid --backend-config for the slurm backend"),
    (["-c", "{not json"], USAGE, "Invalid --backend-config"),
    (["--tracking-uri", "sqlite:///x.db"], USAGE, "proj cannot record runs in MLflow's database directly"),
    (["--tracking-uri", "s3://bucket/x"], SETUP, "No tracking store handles s3:// URIs"),
    (["--tracking-uri", "{file}/store"], SETUP, "Cannot create a tracking store in"),
    (["--env-manager", "nope"], USAGE, "Unknown environment manager 'nope'"),
    (["--env-manager", "docker"], USAGE, "--env-manager docker needs a project with docker_env"),
    (["--installer", "nope", "--env-manager", "virtualenv"], USAGE, "Unknown installer 'nope'"),
    (["--detach"], USAGE, "The local backend cannot run detached"),
    (["--experiment-id", "3"], USAGE, "No experiment with id 3"),
])
def test_dry_run_makes_the_checks_a_run_makes(tmp_path, args, code, message):
    _project(tmp_path / "p", "entry_points: {main: {command: 'echo ran'}}\n")
    (tmp_path / "a-file").write_text("")
    args = [a.replace("{file}", str(tmp_path / "a-file")) for a in args]
    for dry in (["--dry-run"], []):
        done = run_proj("run", "p", *args, *dry, cwd=tmp_path, check_exit=code)
        assert message in done.stderr and done.stdout == "" and "Traceback" not in done.stderr
        assert not (tmp_path / ".proj").exists()  # a refused run, dry or not, creates no store
