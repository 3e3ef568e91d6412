"""Shell completion through typer's own protocol, as bash and zsh call it (`_PROJ_COMPLETE`):
run ids, experiments, entry points and parameter names, from the store and the project here."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_id_of, run_proj

SPEC = """\
name: complete
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      layers: int
    command: "true"
  evaluate:
    parameters:
      split: {type: string, default: test}
    command: "true"
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "complete"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    return folder


def bash(line: str, cwd: Path) -> list[str]:
    """What bash's completion offers for the last word of `line` (empty when it ends with a space)."""
    words = line.split(" ")
    done = run_proj(env={"_PROJ_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)},
                    cwd=cwd, check_exit=0)
    assert done.stderr == ""
    return done.stdout.split()


def test_run_ids_complete_newest_first_from_what_is_typed(project):
    first = run_id_of(run_proj("run", ".", "-P", "layers=1", cwd=project, check_exit=0))
    second = run_id_of(run_proj("run", ".", "-P", "layers=2", "--experiment-name", "wide", cwd=project,
                                check_exit=0))
    assert bash("proj runs show ", project) == [second[:12], first[:12]]
    assert bash(f"proj runs show {first[:3]}", project) == [first[:12]]
    assert bash(f"proj runs logs {first[:14]}", project) == [first]  # past 12 characters: the whole id
    assert bash("proj runs show xyz", project) == []
    assert bash(f"proj runs diff {first[:12]} ", project) == [second[:12], first[:12]]
    assert bash("proj rerun ", project) == [second[:12], first[:12]]
    assert bash("proj runs list -x ", project) == ["Default", "wide"]
    assert bash("proj run . --experiment-name w", project) == ["wide"]


def test_zsh_shows_each_run_with_its_status_and_name(project):
    run_id = run_id_of(run_proj("run", ".", "-P", "layers=1", "--run-name", "first-try", cwd=project, check_exit=0))
    done = run_proj(env={"_PROJ_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "proj runs show "},
                    cwd=project, check_exit=0)
    assert f'"{run_id[:12]}":"FINISHED first-try"' in done.stdout


def test_entry_points_and_parameter_names_come_from_the_project(project, tmp_path):
    assert bash("proj run . -e ", project) == ["main", "evaluate"]
    assert bash("proj run . -e ev", project) == ["evaluate"]
    assert bash("proj run . -P ", project) == ["alpha=", "layers="]
    assert bash("proj run . -P alpha=1 -P ", project) == ["layers="]
    assert bash("proj run . -e evaluate -P ", project) == ["split="]
    assert bash("proj run . --sweep la", project) == ["layers="]
    assert bash(f"proj run {project} -P al", tmp_path) == ["alpha="]  # the project the URI names


def test_nothing_to_complete_is_no_error(tmp_path):
    (tmp_path / "MLproject").write_text("entry_points: [broken")
    assert bash("proj run . -e ", tmp_path) == []  # an invalid project
    assert bash("proj run https://example.org/x.git -e ", tmp_path) == []  # nothing is fetched to complete
    assert bash("proj runs show ", tmp_path) == []  # no store
    assert not (tmp_path / ".proj").exists()  # and completing created none
    assert bash("proj runs show --tracking-uri http://127.0.0.1:9 ", tmp_path) == []  # a server that is not there


def test_commands_and_choices_complete_too(project):
    assert bash("proj ru", project) == ["run", "runs"]
    assert bash("proj --color ", project) == ["auto", "always", "never"]
    assert bash("proj init --env ", project) == ["python", "conda"]
