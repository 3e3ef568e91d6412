"""Command rendering: MLflow's exact strings, and placeholder parsing."""

from __future__ import annotations

import subprocess

import pytest

from runner.command import render_command
from runner.params import resolve_parameters
from runner.spec import EntryPoint, Parameter

GREETER = EntryPoint("main", "python greeter.py {greeting} {name}",
                     (Parameter("greeting", "string", "hi"), Parameter("name", "string")))


def render(entry_point: EntryPoint, given: dict, tmp_path) -> str:
    params = resolve_parameters(entry_point, given, cwd=tmp_path, project_root=tmp_path)
    return render_command(entry_point.command, params)


@pytest.mark.parametrize("given, expected", [
    ({"name": "friend; echo 'hi'"}, "python greeter.py hi 'friend; echo '\"'\"'hi'\"'\"''"),
    ({"name": "friend", "excitement": "10"}, "python greeter.py hi friend --excitement 10"),
    ({"name": "friend=you"}, "python greeter.py hi friend=you"),
    ({"name": "two words", "greeting": "hello there"}, "python greeter.py 'hello there' 'two words'"),
    ({"name": "x", "b": "1", "a": "two words"}, "python greeter.py hi x --b 1 --a 'two words'"),
    ({"name": ""}, "python greeter.py hi ''"),
])
def test_mlflow_rendering(tmp_path, given, expected):
    assert render(GREETER, given, tmp_path) == expected


@pytest.mark.parametrize("value", ["$(touch pwned)", "a; touch pwned", "`touch pwned`", "a && touch pwned",
                                   "a | touch pwned", "$HOME'\"; touch pwned", "a\ntouch pwned"])
def test_hostile_values_reach_the_program_as_one_literal_argument(tmp_path, value):
    entry_point = EntryPoint("main", "printf '%s\\n' {v}", (Parameter("v", "string"),))
    command = render(entry_point, {"v": value}, tmp_path)
    output = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert output.stdout == value + "\n"
    assert not (tmp_path / "pwned").exists()


def test_multi_line_block_command_renders_with_its_newlines(tmp_path):
    entry_point = EntryPoint("main", "python train.py \\\n  --alpha {alpha}\n", (Parameter("alpha", "float"),))
    assert render(entry_point, {"alpha": "0.5"}, tmp_path) == "python train.py \\\n  --alpha 0.5\n"


def test_literal_braces_survive(tmp_path):
    entry_point = EntryPoint("main", "echo {{literal}} {x}", (Parameter("x", "string"),))
    assert render(entry_point, {"x": "1"}, tmp_path) == "echo {literal} 1"


BLOCK = EntryPoint("main", "echo prepare\npython3 -c 'import sys; print(sys.argv[1:])' {alpha}\n",
                   (Parameter("alpha", "float"),))


def test_block_command_gets_undeclared_parameters_on_its_last_line(tmp_path):
    # MLflow appends them after the final newline, where bash runs `--seed 7` as a command (exit 127).
    command = render(BLOCK, {"alpha": "0.5", "seed": "7"}, tmp_path)
    assert command == "echo prepare\npython3 -c 'import sys; print(sys.argv[1:])' 0.5 --seed 7"
    output = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert output.stdout == "prepare\n['0.5', '--seed', '7']\n"


def test_block_command_without_undeclared_parameters_keeps_mlflows_rendering(tmp_path):
    expected = "echo prepare\npython3 -c 'import sys; print(sys.argv[1:])' 0.5\n"
    assert render(BLOCK, {"alpha": "0.5"}, tmp_path) == expected


@pytest.mark.parametrize("command, expected", [
    # a last line continued onto nothing
    ("python train.py \\\n  --alpha {alpha} \\\n", "python train.py \\\n  --alpha 0.5 --seed 7"),
    ("python train.py {alpha}\n\n\n", "python train.py 0.5 --seed 7"),
    ("python train.py {alpha}  ", "python train.py 0.5   --seed 7"),  # one line: MLflow's join, spaces kept
    ("echo a \\\\\n", "echo a \\\\ --seed 7"),  # an escaped backslash is not a continuation
])
def test_where_undeclared_parameters_are_appended(tmp_path, command, expected):
    entry_point = EntryPoint("main", command, (Parameter("alpha", "float"),))
    assert render(entry_point, {"alpha": "0.5", "seed": "7"}, tmp_path) == expected
