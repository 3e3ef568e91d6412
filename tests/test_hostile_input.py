"""Property-based tests: whatever the input, proj answers with a known exit code and a message.

Library functions may raise only ProjError subclasses (which the CLI turns into exit codes 1-3
and one line of text); anything else would be a traceback. No generated input may execute a
command, leave the project or store, or reach git as an option.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_proj
from helpers.exitcodes import USAGE
from runner.errors import ProjError, UnsafeSourceError
from runner.params import parse_assignments, resolve_parameters
from runner.sources import _check_git_url, _check_version, _safe_subdirectory, fetch_project, is_git_url
from runner.spec import EntryPoint, Parameter, inspect_project
from runner.tracking.local import LocalStore

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=25)
spec_like = st.fixed_dictionaries({}, optional={
    "name": yaml_values,
    "entry_points": st.one_of(yaml_values, st.dictionaries(
        st.text(max_size=8), st.fixed_dictionaries({}, optional={
            "command": st.one_of(st.text(max_size=40), yaml_values),
            "parameters": st.one_of(yaml_values, st.dictionaries(st.text(max_size=8), yaml_values, max_size=3)),
        }), max_size=3)),
    "python_env": yaml_values, "conda_env": yaml_values,
    "docker_env": st.one_of(yaml_values, st.fixed_dictionaries({"image": yaml_values}, optional={
        "volumes": yaml_values, "environment": yaml_values})),
})


def _inspect_text(folder: Path, text: str | bytes) -> None:
    path = folder / "MLproject"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        inspection = inspect_project(folder)
    except ProjError:
        return
    for problem in inspection.problems:
        assert problem.message and problem.line >= 0 and problem.column >= 0


@SETTINGS
@given(document=spec_like)
def test_structured_mlproject_documents_never_crash(tmp_path_factory, document):
    folder = tmp_path_factory.mktemp("spec")
    _inspect_text(folder, yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_as_mlproject_never_crashes(tmp_path_factory, text):
    _inspect_text(tmp_path_factory.mktemp("text"), text.encode("utf-8", "replace"))


@SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_as_mlproject_never_crash(tmp_path_factory, data):
    _inspect_text(tmp_path_factory.mktemp("bytes"), data)


@SETTINGS
@given(env_file=st.sampled_from(["python_env.yaml", "conda.yaml"]), document=yaml_values)
def test_environment_files_never_crash(tmp_path_factory, env_file, document):
    folder = tmp_path_factory.mktemp("env")
    (folder / env_file).write_text(yaml.safe_dump(document))
    (folder / "MLproject").write_text(f"{'python_env' if env_file.startswith('python') else 'conda_env'}: {env_file}\n")
    inspect_project(folder)


@SETTINGS
@given(pairs=st.lists(st.text(max_size=15), max_size=5))
def test_parameter_assignments_and_values_never_crash(tmp_path_factory, pairs):
    folder = tmp_path_factory.mktemp("params")
    entry_point = EntryPoint("main", "run {a} {b}", (Parameter("a", "float", 0.5), Parameter("b", "path", ".")))
    try:
        given_values = parse_assignments(pairs)
        resolve_parameters(entry_point, given_values, cwd=folder, project_root=folder)
    except ProjError:
        pass


@SETTINGS
@given(uri=st.text(max_size=60))
def test_uri_checks_refuse_or_accept_but_never_crash(uri):
    """Only the checks: generated URIs are never fetched (no traffic leaves this machine)."""
    base, _, subdirectory = uri.partition("#")
    try:
        _safe_subdirectory(subdirectory, uri)
        if is_git_url(base):
            _check_git_url(base)
            assert not base.startswith("-")
    except UnsafeSourceError:
        pass


@SETTINGS
@given(version=st.text(max_size=30))
def test_versions_that_pass_cannot_be_options_or_ranges(version):
    try:
        _check_version(version)
    except UnsafeSourceError:
        return
    assert not version.startswith("-") and ".." not in version and ":" not in version and " " not in version


@SETTINGS
@given(uri=st.one_of(st.text(max_size=40), st.from_regex(r"(ext|fd|[a-z]+)::.{0,20}", fullmatch=True),
                     st.from_regex(r"-[-a-zA-Z=]{1,20}", fullmatch=True)))
def test_fetching_hostile_local_or_refused_uris_never_crashes(tmp_path_factory, monkeypatch, uri):
    """URIs that are not git URLs go no further than the local file system."""
    if is_git_url(uri.partition("#")[0]):
        return  # a generated git URL would try the network; the check above covers them
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        with fetch_project(uri):
            pass
    except ProjError:
        pass


@SETTINGS
@given(ref=st.text(max_size=40))
def test_run_ids_never_crash_or_escape(tmp_path_factory, ref):
    store = LocalStore(tmp_path_factory.mktemp("store"))
    store.check_writable()
    try:
        store.get_run(ref)
    except ProjError:
        pass
    with pytest.raises((ProjError, ValueError)):
        store.read_attachment(ref, "../../etc/passwd")


HOSTILE_PROJECT = """\
entry_points:
  main:
    parameters:
      value: string
    command: "printf '%s' {value} > received.txt; true"  # extra -P keys land on true
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(min_size=1, max_size=12).filter(lambda k: "=" not in k and "\0" not in k),
       value=st.text(max_size=40).filter(lambda v: "\0" not in v))
def test_cli_with_hostile_parameters_answers_with_a_known_code(tmp_path_factory, key, value):
    """Through the real CLI: the value arrives byte-for-byte, an odd key is refused, nothing else runs."""
    project = tmp_path_factory.mktemp("hostile")
    (project / "MLproject").write_text(HOSTILE_PROJECT)
    result = run_proj("run", ".", "-P", f"value={value}", "-P", f"{key}=1", cwd=project,
                      env={"PROJ_TRACKING_URI": str(project / "store")})
    assert result.returncode in (0, USAGE), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert (project / "received.txt").read_bytes() == value.encode("utf-8", "surrogateescape")
    else:
        assert "proj: error:" in result.stderr and not (project / "received.txt").exists()
    assert sorted(p.name for p in project.iterdir()) in (["MLproject"], ["MLproject", "received.txt", "store"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(min_size=1, max_size=30).filter(lambda r: "\0" not in r and not r.startswith("-")))
def test_cli_with_hostile_run_ids_answers_with_exit_125(tmp_path_factory, ref):
    folder = tmp_path_factory.mktemp("ids")
    env = {"PROJ_TRACKING_URI": str(folder / "store")}
    (folder / "MLproject").write_text("entry_points:\n  main: {command: 'true'}\n")
    run_proj("run", ".", cwd=folder, env=env, check_exit=0)
    for command in (["runs", "show", ref], ["runs", "logs", ref], ["runs", "artifacts", ref]):
        result = run_proj(*command, cwd=folder, env=env)
        assert result.returncode in (0, USAGE) and "Traceback" not in result.stderr, (command, result.stderr)
    listed = json.loads(run_proj("runs", "list", "--format", "json", cwd=folder, env=env, check_exit=0).stdout)
    assert len(listed) == 1  # the store is intact
