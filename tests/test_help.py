"""`--help` as a user reads it: every command explains itself and its options, the main ones show
examples, options with a fixed set of values list them, and counted words agree with their count."""

from __future__ import annotations

import importlib

import click
import pytest
import typer

from conftest import run_proj
from runner.cli import _ALL_MODULES
from runner.cli.app import app


def every_command() -> list[tuple[str, click.Command]]:
    for module in _ALL_MODULES:
        importlib.import_module(f"runner.cli.{module}")
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def test_every_command_and_option_says_what_it_is_for():
    missing = []
    for path, command in every_command():
        if not (command.help or "").strip():
            missing.append(f"proj {path}: no description")
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip() and not param.hidden:
                missing.append(f"proj {path} {param.opts[0]}: no help")
    assert missing == []


def test_options_with_fixed_values_list_them():
    unlisted = []
    for path, command in every_command():
        for param in command.params:
            if isinstance(param.type, click.Choice):
                shown = param.get_help_record(click.Context(command))
                if shown is None or not all(choice in " ".join(shown) for choice in param.type.choices):
                    unlisted.append(f"proj {path} {param.opts[0]}")
    assert unlisted == []


@pytest.mark.parametrize("command", [
    "run", "rerun", "init", "validate", "ui", "gc", "runs list", "runs show", "runs artifacts", "runs diff",
    "runs export", "runs wait", "runs tag", "env lock",
])
def test_the_main_commands_show_examples(command):
    shown = run_proj(*command.split(), "--help", check_exit=0).stdout
    assert "Example" in shown and f"proj {command}" in shown.split("Example", 1)[1]


def test_run_help_names_every_choice_it_takes():
    shown = " ".join(run_proj("run", "--help", check_exit=0).stdout.split())
    for words in ("local (this machine), slurm, or a plugin backend's name", "local, virtualenv, uv, conda or docker",
                  "uv, or pip", "uniform(LOW,HIGH), loguniform(LOW,HIGH), randint(LOW,HIGH), choice(V1,V2,...)",
                  "METRIC[:min|max]", "<text|json|github>"):
        assert words in shown
    assert "<auto|always|never>" in run_proj("--help", check_exit=0).stdout


def test_a_global_options_value_is_not_taken_for_the_command():
    from runner.cli import _modules_for

    assert _modules_for(["--color", "never", "run", "."]) == ("run",)  # only run's module is loaded
    assert _modules_for(["--color", "always", "runs", "list"]) == ("runs_list",)
