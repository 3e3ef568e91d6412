"""Tracking stores from other packages, found through the entry-point group `proj.tracking_stores`.

The example plugin (tests/data/plugin-store, the one docs/plugins.md describes) is built and
installed for real, into a folder of its own that only the `proj` processes of these tests see
through PYTHONPATH: the test environment itself is never changed. The broken and clashing
plugins are bare installed-distribution metadata, which is all that entry-point lookup reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, run_proj
from helpers.exitcodes import SETUP
from helpers.plugins import install_plugin

PLUGIN_SOURCE = DATA / "plugin-store"
PROJECT = DATA / "mlflow-store" / "basic"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """The example plugin, built with hatchling (a test dependency) and installed into a folder."""
    return install_plugin(PLUGIN_SOURCE, tmp_path_factory.mktemp("plugin"))


def _fake_distribution(folder: Path, name: str, entry_points: str) -> Path:
    """An installed distribution as an installer leaves it: METADATA and entry_points.txt."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[proj.tracking_stores]\n{entry_points}\n")
    return folder


def test_a_store_from_a_plugin_package_receives_the_run(plugin_site, tmp_path):
    runs = tmp_path / "runs"
    uri = f"jsondir://{runs}"
    env = {"PYTHONPATH": str(plugin_site)}

    done = run_proj("run", str(PROJECT), "-P", "name=plug", "--env-manager", "local", "--tracking-uri", uri,
                    env=env, check_exit=0)

    [saved] = runs.glob("*.json")
    record = json.loads(saved.read_text())
    assert f"recorded in {uri}" in done.stderr
    assert (record["status"], record["exit_code"], record["entry_point"]) == ("FINISHED", 0, "main")
    assert {p["name"]: p["value"] for p in record["parameters"]} == {"alpha": 0.1, "name": "plug"}
    assert (runs / saved.stem / "output.log").read_text() == "hello plug alpha=0.1\n"

    listed = run_proj("runs", "list", "--tracking-uri", uri, "--format", "json", env=env, check_exit=0)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [saved.stem]
    assert run_proj("runs", "logs", saved.stem[:8], "--tracking-uri", uri, env=env,
                    check_exit=0).stdout == "hello plug alpha=0.1\n"


def test_two_plugins_with_the_same_name_are_reported(plugin_site, tmp_path):
    other = _fake_distribution(tmp_path / "other", "other-jsondir", "jsondir = other_jsondir:Store")
    done = run_proj("runs", "list", "--tracking-uri", "jsondir:///tmp/x",
                    env={"PYTHONPATH": f"{plugin_site}:{other}"}, check_exit=SETUP)
    assert "Two tracking store plugins are named 'jsondir'" in done.stderr
    assert "proj-jsondir-store" in done.stderr and "other-jsondir" in done.stderr
    assert "uninstall one of them" in done.stderr and "Traceback" not in done.stderr


def test_a_plugin_that_fails_to_import_is_reported(tmp_path):
    broken = _fake_distribution(tmp_path / "broken", "broken-store", "broken = no_such_module_here:Store")
    done = run_proj("runs", "list", "--tracking-uri", "broken:///tmp/x", env={"PYTHONPATH": str(broken)},
                    check_exit=SETUP)
    assert "The tracking store plugin 'broken' from broken-store failed to load" in done.stderr
    assert "no_such_module_here" in done.stderr and "Traceback" not in done.stderr


def test_a_plugin_cannot_replace_the_builtin_mlflow_store(plugin_site, tmp_path):
    shadow = _fake_distribution(tmp_path / "shadow", "shadow-http", "http = proj_jsondir_store:JsonDirStore")
    done = run_proj("runs", "list", "--tracking-uri", "http://127.0.0.1:9",
                    env={"PYTHONPATH": f"{plugin_site}:{shadow}"}, check_exit=SETUP)
    assert "The tracking store plugin 'http' from shadow-http clashes with proj's built-in 'http'" in done.stderr


def test_an_unknown_scheme_lists_the_stores_there_are(plugin_site):
    done = run_proj("runs", "list", "--tracking-uri", "nosuch://x", env={"PYTHONPATH": str(plugin_site)},
                    check_exit=SETUP)
    assert "No tracking store handles nosuch:// URIs" in done.stderr
    assert "known: a path, file:, http, https, jsondir" in done.stderr
