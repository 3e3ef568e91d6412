"""`path` parameters given as http(s) URLs: downloaded before the run, as `mlflow run` does.

The files are served by a real http.server on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import SETUP, USAGE
from helpers.http_files import serve_folder

SPEC = """\
entry_points:
  main:
    parameters:
      name: {type: string, default: x}
      data: path
    command: "python3 show.py {data}"
"""
SHOW = "import sys; p = sys.argv[1]; print(p); print(open(p).read(), end='')\n"


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "other.csv").write_text("c\n3\n")
    with serve_folder(folder) as base:
        yield base


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "show.py").write_text(SHOW)
    return folder


def test_a_url_is_downloaded_into_the_storage_dir_as_mlflow_lays_it_out(served, project, tmp_path):
    storage = tmp_path / "storage"
    done = run_proj("run", ".", "-P", f"data={served}/data.csv", "--storage-dir", str(storage), cwd=project,
                    check_exit=0)
    local = Path(done.stdout.splitlines()[0])
    assert done.stdout.splitlines()[1:] == ["a,b", "1,2"]
    # MLflow's layout: <storage dir>/<a new folder>/param_<position of the parameter>/<file name>
    assert local.parent.name == "param_1" and local.name == "data.csv" and local.parent.parent.parent == storage
    assert local.read_text() == "a,b\n1,2\n"  # kept: it was put where asked
    data = next(p for p in show_run(run_id_of(done), project)["parameters"] if p["name"] == "data")
    assert (data["given"], data["value"], data["rendered"]) == (f"{served}/data.csv", str(local), str(local))
    assert f"proj: downloading {served}/data.csv for parameter data" in done.stderr


def test_without_a_storage_dir_the_download_is_removed_after_the_run(served, project, isolated_home):
    done = run_proj("run", ".", "-P", f"data={served}/data.csv", cwd=project, check_exit=0)
    local = Path(done.stdout.splitlines()[0])
    assert local.is_relative_to(isolated_home / "downloads") and not local.exists()
    assert list((isolated_home / "downloads").iterdir()) == []


def test_mlflow_tmp_dir_is_the_storage_dir(served, project, tmp_path):
    storage = tmp_path / "tmpdir"
    done = run_proj("run", ".", "-P", f"data={served}/data.csv", cwd=project, env={"MLFLOW_TMP_DIR": str(storage)},
                    check_exit=0)
    assert Path(done.stdout.splitlines()[0]).is_relative_to(storage)


def test_a_sweep_downloads_each_url_once(served, project, tmp_path):
    storage = tmp_path / "storage"
    done = run_proj("run", ".", "-P", f"data={served}/data.csv", "--sweep", "name=a,b", "--storage-dir",
                    str(storage), cwd=project, check_exit=0)
    assert done.stderr.count("proj: downloading") == 1
    assert len(list(storage.rglob("data.csv"))) == 1


def test_a_dry_run_downloads_nothing(served, project, isolated_home):
    done = run_proj("run", ".", "-P", f"data={served}/data.csv", "--dry-run", cwd=project, check_exit=0)
    assert "(path, given, downloaded when the run starts)" in done.stdout
    assert not (isolated_home / "downloads").exists() or not list((isolated_home / "downloads").iterdir())


def test_download_failures_stop_the_run_before_anything_is_recorded(served, project):
    missing = run_proj("run", ".", "-P", f"data={served}/absent.csv", cwd=project, check_exit=SETUP)
    assert f"Cannot download {served}/absent.csv (parameter data): the server answered 404" in missing.stderr
    assert missing.stdout == ""
    listed = json.loads(run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout or "[]")
    assert listed == []


def test_other_remote_paths_are_refused_with_advice(project):
    done = run_proj("run", ".", "-P", "data=s3://bucket/data.csv", cwd=project, check_exit=USAGE)
    assert "proj downloads only http(s) URLs, not 's3://bucket/data.csv'" in done.stderr
    assert "declare the parameter as type uri" in done.stderr


def test_a_rerun_downloads_the_url_again(served, project):
    run_id = run_id_of(run_proj("run", ".", "-P", f"data={served}/data.csv", cwd=project, check_exit=0))
    again = run_proj("rerun", run_id, cwd=project, check_exit=0)
    assert "proj: downloading" in again.stderr and again.stdout.splitlines()[1:] == ["a,b", "1,2"]
