"""`proj run` on a plain command line is read without typer (runner/cli/quick_run.py).

The quick path must read every line it accepts exactly as typer would, and hand every other line
to typer. Both are checked here against typer itself: the arguments typer's `run` command passes
to `run_command` are recorded (typer really parses; only the call at the end is intercepted) and
compared with what the quick path makes of the same line. Through the CLI, the same mistake gives
the same message and exit code on either path.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import runner.cli.run as typer_run
from conftest import run_proj
from helpers.exitcodes import USAGE
from runner.cli.app import app
from runner.cli.quick_run import plain_run_options
from runner.cli.run_command import run_command

TYPER_VARIABLES = ("_PROJ_COMPLETE", "PROJ_DEBUG", "PROJ_COLOR", "MLFLOW_TMP_DIR", "PROJ_CONDA_CHANNEL_ALIAS")


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TYPER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def as_typer_reads(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every argument typer's `proj run` passes to run_command for `argv`."""
    calls: list[dict[str, Any]] = []

    def record(*args: Any, **kwargs: Any) -> int:
        calls.append(dict(inspect.signature(run_command).bind(*args, **kwargs).arguments))
        return 0

    monkeypatch.setattr(typer_run, "run_command", record)
    assert app(argv, prog_name="proj", standalone_mode=False) == 0
    return complete(calls[0])


def complete(arguments: dict[str, Any]) -> dict[str, Any]:
    """`arguments` with run_command's defaults for those not given; no list or mapping as None."""
    bound = inspect.signature(run_command).bind_partial(**arguments)
    bound.apply_defaults()
    full = dict(bound.arguments)
    for name in ("param", "tag", "sweep"):
        full[name] = list(full[name] or [])
    full["kind_flags"] = full["kind_flags"] or {}
    return full


@pytest.mark.parametrize("argv", [
    ["run", "."],
    ["run", ".", "-P", "alpha=0.5", "-P", "l1_ratio=2", "-e", "train"],
    ["run", "-e", "train", "https://example.com/repo.git#sub/dir", "--version", "v1.2"],
    ["run", "folder", "--entry-point=evaluate", "--param-list=a=b=c", "--tag", "team=vision", "-t", "k=v",
     "--run-name", "first try", "--description", "why: this", "--experiment-name", "exp",
     "--env-manager", "uv", "--tracking-uri", "/tmp/store", "-b", "local", "--strict", "--frozen",
     "--verbose", "--dry-run", "--run-id", "0123abc", "--experiment-id", "3"],
    ["run", ".", "-e", "first", "-e", "second", "--backend=slurm"],
    ["run", ".", "-P", "empty=", "--run-name", ""],
])
def test_the_quick_path_reads_a_plain_line_as_typer_does(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    quick = plain_run_options(argv)
    assert quick is not None
    assert complete(quick) == as_typer_reads(argv, monkeypatch)


@pytest.mark.parametrize("argv", [
    ["run"], ["run", "--help"], ["run", ".", "-h"], ["--debug", "run", "."], ["--color", "never", "run", "."],
    ["run", ".", "-Palpha=1"], ["run", ".", "--format", "json"], ["run", ".", "extra"], ["run", ".", "-e"],
    ["run", ".", "-e", "--strict"], ["run", ".", "--strict=yes"], ["run", ".", "--sweep", "a=1,2"],
    ["run", ".", "--"], ["run", ".", "--installer", "pip"], ["run", ".", "--no-such-option"], ["runs", "list"],
    ["run", ".", "--lock", "python_env.lock"], ["run", ".", "--detach"], ["run", "-", "-e", "x"],
])
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert plain_run_options(argv) is None


@pytest.mark.parametrize("variable", TYPER_VARIABLES)
def test_a_setting_typer_reads_from_the_environment_leaves_the_line_to_typer(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "x")
    assert plain_run_options(["run", "."]) is None


def test_a_mistake_reads_the_same_on_either_path(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text('name: p\nentry_points:\n  main:\n    command: "true"\n')
    quick = run_proj("run", ".", "-e", "absent", cwd=tmp_path)
    through_typer = run_proj("--color", "never", "run", ".", "-e", "absent", cwd=tmp_path)
    assert quick.returncode == through_typer.returncode == USAGE
    assert quick.stderr == through_typer.stderr and "absent" in quick.stderr
