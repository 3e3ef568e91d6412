"""The JSON schemas: valid, documented, shipped inside the wheel, and met by every example."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
import yaml

from conftest import REPO_ROOT, run_proj

SCHEMAS = sorted((REPO_ROOT / "schemas").glob("*.schema.json"))
EXAMPLES = sorted(p for p in (REPO_ROOT / "example-projects").iterdir() if p.is_dir())


@pytest.mark.parametrize("schema_file", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(schema_file):
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_file.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _undocumented(node, where: str, schema: dict) -> list[str]:
    """Every property and definition needs a description (directly or on the schema it refers to)."""
    missing = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            target = _follow(sub, schema)
            if "description" not in sub and "description" not in target:
                missing.append(f"{where}.properties.{name}")
        for name, sub in node.get("$defs", {}).items():
            if "description" not in sub:
                missing.append(f"{where}.$defs.{name}")
        for key, sub in node.items():
            missing += _undocumented(sub, f"{where}.{key}", schema)
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            missing += _undocumented(sub, f"{where}[{index}]", schema)
    return missing


def _follow(node: dict, schema: dict) -> dict:
    ref = node.get("$ref", "")
    return schema["$defs"][ref.split("/")[-1]] if ref.startswith("#/$defs/") else node


@pytest.mark.parametrize("schema_file", SCHEMAS, ids=lambda p: p.name)
def test_every_property_has_a_description(schema_file):
    schema = json.loads(schema_file.read_text())
    assert "description" in schema
    assert _undocumented(schema, "$", schema) == []


def test_wheel_ships_the_same_schemas(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(REPO_ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("proj_runner-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name.rsplit("/", 1)[1]: archive.read(name)
                   for name in archive.namelist() if name.startswith("runner/schemas/")}
    assert shipped == {path.name: path.read_bytes() for path in SCHEMAS}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_project_validates_strictly(example):
    result = run_proj("validate", "--strict", str(example))
    assert result.returncode == 0, result.stdout + result.stderr


def test_printed_schema_has_every_section_and_accepts_every_example():
    """`proj validate --print-schema` (for editors): the core schema with each kind's section."""
    from jsonschema import Draft202012Validator

    printed = json.loads(run_proj("validate", "--print-schema", check_exit=0).stdout)
    assert {"python_env", "conda_env", "docker_env", "entry_points"} <= set(printed["properties"])
    validator = Draft202012Validator(printed)
    for example in EXAMPLES:
        document = yaml.safe_load((example / "MLproject").read_text())
        assert list(validator.iter_errors(document)) == [], example.name
    assert list(validator.iter_errors({"docker_env": {"image": "x", "environment": [["A"]]}}))  # a pair needs 2


def test_a_file_that_passed_is_not_checked_again(tmp_path):
    """jsonschema costs ~70 ms to import; a document that passed once skips it (same content)."""
    (tmp_path / "MLproject").write_text("name: cached\nentry_points:\n  main: {command: echo hi}\n")
    probe = ("import sys, pathlib; from runner.spec import load_project; "
             "load_project(pathlib.Path(sys.argv[1])); print('jsonschema' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), second.stdout.strip()) == ("True", "False")
    (tmp_path / "MLproject").write_text("name: changed\nentry_points:\n  main: {command: echo hi}\n")
    third = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    assert third.stdout.strip() == "True"
