"""A YAML file parsed once is kept parsed under $PROJ_HOME/cache/yaml (runner/yamldoc.py), so that
`proj run` of an unchanged project does not import PyYAML. What a kept parse gives must be what
parsing gives: the same data, positions, problems and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import DATA, REPO_ROOT, run_proj

# Reads a YAML file through runner.yamldoc and prints everything a caller can ask of the document,
# and whether PyYAML was imported to get it.
_READ = """
import json, sys
from pathlib import Path
from runner.yamldoc import read_yaml
document = read_yaml(Path(sys.argv[1]))
paths = json.loads(sys.argv[2])
print(json.dumps({
    "data": repr(document.data),
    "positions": [[document.position(tuple(p)).line, document.position(tuple(p)).column] for p in paths],
    "keys": [[document.key_position(tuple(p)).line, document.key_position(tuple(p)).column] for p in paths],
    "sources": [document.source_text(tuple(p)) for p in paths],
    "located": [[document.locate_in_value(tuple(p), "b").line, document.locate_in_value(tuple(p), "b").column]
                for p in paths],
    "duplicates": [str(problem) for problem in document.duplicate_key_problems()],
    "pyyaml": "yaml" in sys.modules,
}))
"""

TEXT = """\
name: kept
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      beta: "a b c"
      alpha: 2
    command: >
      python train.py
      --beta {beta}
  other: &shared
    command: "echo b"
  third: *shared
list: [1, two, 3.0, null, yes]
"""
PATHS = [["name"], ["entry_points", "main", "parameters", "beta"], ["entry_points", "main", "command"],
         ["entry_points", "third", "command"], ["list", 4], ["absent", "deeper"], []]


def read(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _READ, str(path), json.dumps(PATHS)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60, check=True)
    return json.loads(done.stdout)


def kept_files() -> list[Path]:
    folder = Path(os.environ["PROJ_HOME"]) / "cache" / "yaml"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_kept_parse_answers_as_parsing_does_without_pyyaml(tmp_path: Path) -> None:
    path = tmp_path / "MLproject"
    path.write_text(TEXT)
    parsed = read(path)
    assert parsed["pyyaml"] and len(kept_files()) == 1
    kept = read(path)
    assert not kept["pyyaml"]
    assert {**kept, "pyyaml": True} == parsed
    assert parsed["data"] == repr(yaml.safe_load(TEXT))
    assert parsed["duplicates"] and parsed["located"][2] == [10, 9]  # the b of --beta, in the folded block


def test_a_changed_file_or_a_damaged_kept_parse_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "MLproject"
    path.write_text(TEXT)
    read(path)
    (kept,) = kept_files()
    kept.write_bytes(kept.read_bytes()[:40])  # cut short, as by a full disk
    again = read(path)
    assert again["pyyaml"] and again["data"] == repr(yaml.safe_load(TEXT))
    path.write_text(TEXT.replace("kept", "changed"))
    changed = read(path)
    assert changed["pyyaml"] and "changed" in changed["data"] and len(kept_files()) == 2


def test_a_document_with_a_date_is_parsed_each_time(tmp_path: Path) -> None:
    path = tmp_path / "MLproject"
    path.write_text("name: dated\nreleased: 2024-05-01\n")
    first, second = read(path), read(path)
    assert first == second and second["pyyaml"] and "datetime.date(2024, 5, 1)" in second["data"]
    assert kept_files() == []  # marshal cannot hold a date: nothing kept, nothing wrong


def test_validating_again_reports_the_same_problems_at_the_same_places() -> None:
    folders = sorted(str(p) for p in (DATA / "spec" / "invalid").iterdir() if p.is_dir())
    first = run_proj("validate", *folders)
    second = run_proj("validate", *folders)
    assert first.returncode == second.returncode != 0
    assert first.stdout == second.stdout and first.stderr == second.stderr
    assert "line" in first.stdout + first.stderr
    assert kept_files()
