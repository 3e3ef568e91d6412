"""Parameter parsing, typing, defaults and the path/uri rules (pure logic)."""

from __future__ import annotations

import os

import pytest

from runner.errors import ParameterError
from runner.params import parse_assignments, resolve_parameters
from runner.spec import EntryPoint, Parameter


def entry(*parameters: Parameter, command: str = "run") -> EntryPoint:
    return EntryPoint("main", command, tuple(parameters))


def test_assignments_split_at_the_first_equals_sign():
    assert parse_assignments(["name=friend=you", "empty="]) == {"name": "friend=you", "empty": ""}


@pytest.mark.parametrize("bad", ["novalue", "=value"])
def test_assignment_without_name_or_equals_is_an_error(bad):
    with pytest.raises(ParameterError, match="expected NAME=VALUE"):
        parse_assignments([bad])


def test_repeated_parameter_is_an_error():
    with pytest.raises(ParameterError, match=r"^Repeated parameter: 'x'$"):
        parse_assignments(["x=1", "x=2"])


def test_type_error_names_parameter_type_and_value(tmp_path):
    with pytest.raises(ParameterError, match=r"^Parameter 'alpha' expects a float, got 'abc'$"):
        resolve_parameters(entry(Parameter("alpha", "float")), {"alpha": "abc"}, cwd=tmp_path, project_root=tmp_path)


def test_all_missing_parameters_are_named_at_once(tmp_path):
    ep = entry(Parameter("a", "float"), Parameter("b", "string"), Parameter("c", "int", 3))
    with pytest.raises(ParameterError, match=r"^No value given for missing parameters: 'a', 'b'$"):
        resolve_parameters(ep, {}, cwd=tmp_path, project_root=tmp_path)


def test_values_keep_declaration_order_and_record_how_they_were_given(tmp_path):
    ep = entry(Parameter("alpha", "float", 0.5), Parameter("n", "int"), Parameter("flag", "bool", True))
    params = resolve_parameters(ep, {"n": "3", "extra": "x y"}, cwd=tmp_path, project_root=tmp_path)
    rows = [(p.name, p.given, p.value, p.rendered, p.declared) for p in params]
    assert rows == [
        ("alpha", None, 0.5, "0.5", True),
        ("n", "3", 3, "3", True),
        ("flag", None, True, "True", True),  # str(True), as MLflow renders a YAML boolean
        ("extra", "x y", "x y", "x y", False),
    ]


def test_float_given_as_written_is_rendered_as_written(tmp_path):
    params = resolve_parameters(entry(Parameter("alpha", "float")), {"alpha": "1e-1"}, cwd=tmp_path,
                                project_root=tmp_path)
    assert (params.declared[0].value, params.declared[0].rendered) == (0.1, "1e-1")


@pytest.mark.parametrize("key", ["a;b", "$(x)", "a b", "-x", "--x", "", "é"])
def test_undeclared_keys_must_look_like_option_names(tmp_path, key):
    with pytest.raises(ParameterError, match="Invalid parameter name"):
        resolve_parameters(entry(), {key: "1"}, cwd=tmp_path, project_root=tmp_path)


def test_path_given_is_made_absolute_from_the_current_folder(tmp_path):
    (tmp_path / "in.csv").write_text("x\n")
    params = resolve_parameters(entry(Parameter("data", "path")), {"data": "in.csv"}, cwd=tmp_path,
                                project_root=tmp_path / "elsewhere")
    assert params.declared[0].value == str(tmp_path / "in.csv")
    assert params.declared[0].given == "in.csv"


def test_path_default_is_resolved_from_the_project_folder(tmp_path):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "d.csv").write_text("x\n")
    params = resolve_parameters(entry(Parameter("data", "path", "data/d.csv")), {}, cwd=tmp_path,
                                project_root=project)
    assert params.declared[0].value == str(project / "data" / "d.csv")


def test_file_uri_path_is_accepted(tmp_path):
    (tmp_path / "x").write_text("")
    params = resolve_parameters(entry(Parameter("p", "path")), {"p": (tmp_path / "x").as_uri()},
                                cwd=tmp_path, project_root=tmp_path)
    assert params.declared[0].value == str(tmp_path / "x")


@pytest.mark.parametrize("value, message", [
    ("missing.csv", "no such file or directory"),
    ("s3://bucket/key", "proj downloads only http\\(s\\) URLs, not .s3://bucket/key."),
    ("", "must not be empty"),
])
def test_bad_paths_are_refused(tmp_path, value, message):
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(entry(Parameter("p", "path")), {"p": value}, cwd=tmp_path, project_root=tmp_path)


def test_home_relative_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "h.txt").write_text("")
    params = resolve_parameters(entry(Parameter("p", "path")), {"p": "~/h.txt"}, cwd=tmp_path / "x",
                                project_root=tmp_path)
    assert params.declared[0].value == os.path.join(tmp_path, "h.txt")
