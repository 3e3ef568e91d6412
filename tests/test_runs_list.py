"""`proj runs list` for real work, through the `proj` command: metric, parameter and tag
columns, sorting, MLflow's filter syntax, pages, output formats, sweeps by prefix, time zones."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import USAGE

TRAIN = """\
import json, os, sys
alpha, seed = float(sys.argv[1]), int(sys.argv[2])
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "w") as out:
    for key, value in (("rmse", alpha + seed / 100), ("mae", alpha / 2), ("r2", 1 - alpha)):
        out.write(json.dumps({"key": key, "value": value}) + "\\n")
"""
SPEC = """\
name: listing
entry_points:
  main:
    parameters: {alpha: {type: float, default: 0.5}, seed: {type: int, default: 1}}
    command: "python train.py {alpha} {seed}"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Five runs (alpha, seed, tags) and a sweep of two; returns the folder and the ids by name."""
    folder = tmp_path_factory.mktemp("listing") / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "train.py").write_text(TRAIN)
    ids = {}
    for name, alpha, seed, tags in (("a", "0.1", "3", ["team=vision"]), ("b", "0.9", "1", ["team=nlp", "stage=try"]),
                                    ("c", "0.5", "2", []), ("d", "0.3", "1", ["team=vision"]),
                                    ("e", "0.7", "5", [])):
        args = ["-P", f"alpha={alpha}", "-P", f"seed={seed}", "--run-name", name]
        args += [option for tag in tags for option in ("--tag", tag)]
        ids[name] = run_id_of(run_proj("run", ".", *args, cwd=folder, check_exit=0))
    sweep = run_proj("run", ".", "--sweep", "alpha=0.2,0.4", "-P", "seed=9", "--experiment-name", "swept",
                     cwd=folder, check_exit=0)
    ids["sweep"] = re.search(r"sweep ([0-9a-f]{32})", sweep.stderr).group(1)
    return folder, ids


def _list(project, *args: str, check_exit: int = 0, env: dict | None = None):
    return run_proj("runs", "list", *args, cwd=project[0], env=env, check_exit=check_exit)


def _names(project, *args: str) -> list[str]:
    return [r["run_name"] for r in json.loads(_list(project, "--format", "json", *args).stdout)]


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_several_metric_columns_sorted_by_the_first(project) -> None:
    rows = _rows(_list(project, "-x", "Default", "-m", "rmse", "-m", "mae", "-m", "r2").stdout)
    assert rows[0][6:9] == ["RMSE", "MAE", "R2"]
    assert [row[6] for row in rows[1:]] == ["0.13", "0.31", "0.52", "0.75", "0.91"]  # rmse ascending
    assert [row[7] for row in rows[1:]] == ["0.05", "0.15", "0.25", "0.35", "0.45"]
    assert _names(project, "-x", "Default", "-m", "rmse", "--desc") == ["b", "e", "c", "d", "a"]


def test_columns_of_parameters_tags_and_metrics(project) -> None:
    rows = _rows(_list(project, "-x", "Default", "--columns", "params,tags", "--sort", "run_name").stdout)
    assert rows[0][6:] == ["params.alpha", "params.seed", "tags.stage", "tags.team"]  # no PARAMETERS, no TAGS
    assert rows[1][6:] == ["0.1", "3", "-", "vision"] and rows[2][6:] == ["0.9", "1", "try", "nlp"]
    named = _rows(_list(project, "-x", "Default", "-c", "metrics.r2, params.alpha", "--sort", "run_name").stdout)
    assert named[0][6:] == ["R2", "params.alpha", "PARAMETERS", "TAGS"]
    assert named[1][6:8] == ["0.9", "0.1"]
    metrics = _rows(_list(project, "-x", "Default", "--columns", "metrics", "-n", "1").stdout)
    assert metrics[0][6:9] == ["MAE", "R2", "RMSE"]


@pytest.mark.parametrize(("args", "expected"), [
    (("--sort", "params.alpha DESC"), ["b", "e", "c", "d", "a"]),
    (("--sort", "params.seed", "--desc"), ["e", "a", "c", "d", "b"]),  # ties: newest first
    (("--sort", "tags.team"), ["b", "d", "a", "e", "c"]),  # runs without the tag last
    (("--sort", "run_name"), ["a", "b", "c", "d", "e"]),
    (("--sort", "metrics.r2 asc"), ["b", "e", "c", "d", "a"]),
    (("--sort", "start_time"), ["a", "b", "c", "d", "e"]),
    ((), ["e", "d", "c", "b", "a"]),  # newest first
])
def test_sorts_by_any_column(project, args: tuple[str, ...], expected: list[str]) -> None:
    assert _names(project, "-x", "Default", *args) == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("metrics.rmse < 0.6", ["d", "c", "a"]),
    ("metrics.rmse < 0.6 and params.alpha = '0.5'", ["c"]),
    ("tags.team = 'vision'", ["d", "a"]),
    ("tags.team = 'vision' and params.seed = '1'", ["d"]),
    ("params.alpha > 0.4 and params.alpha <= 0.7", ["e", "c"]),
    ("tags.stage IS NULL and metrics.r2 >= 0.5", ["d", "c", "a"]),
    ("run_name LIKE '_'", ["e", "d", "c", "b", "a"]),
])
def test_filters_with_mlflow_search_syntax(project, expression: str, expected: list[str]) -> None:
    assert _names(project, "-x", "Default", "--filter", expression) == expected


def test_a_bad_filter_says_where(project) -> None:
    done = _list(project, "--filter", "metrics.rmse < 0.8 or tags.team = 'x'", check_exit=USAGE)
    assert "Invalid filter at column 20: OR is not supported" in done.stderr
    assert "\n  metrics.rmse < 0.8 or tags.team = 'x'\n" + " " * 21 + "^" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "unknown attribute 'colour'" in _list(project, "-f", "colour = 'red'", check_exit=USAGE).stderr
    assert "Runs cannot be sorted by the attribute 'user_id'" in _list(project, "--sort", "user_id",
                                                                        check_exit=USAGE).stderr


def test_pages_say_how_many_more(project) -> None:
    first = _list(project, "-x", "Default", "-n", "2")
    assert len(_rows(first.stdout)) == 3
    assert "proj: 3 more; use --limit/--offset to see them (--offset 2)" in first.stderr
    second = _list(project, "-x", "Default", "-n", "2", "--offset", "2")
    assert _rows(second.stdout)[1][0] != _rows(first.stdout)[1][0]
    assert "1 more" in second.stderr
    last = _list(project, "-x", "Default", "-n", "2", "--offset", "4")
    assert len(_rows(last.stdout)) == 2 and "more" not in last.stderr
    past = _list(project, "-x", "Default", "--offset", "10")
    assert past.stdout.strip() == "no runs" and "5 runs match; --offset 10 is past the last" in past.stderr
    assert _names(project, "-x", "Default", "--sort", "run_name", "-n", "2", "--offset", "1") == ["b", "c"]


def test_csv_and_markdown(project) -> None:
    _folder, ids = project
    text = _list(project, "-x", "Default", "--format", "csv", "-m", "rmse", "--columns", "tags", "--utc").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["RUN", "STARTED", "STATUS", "TIME", "EXPERIMENT", "ENTRY", "RMSE", "tags.stage",
                             "tags.team", "PARAMETERS"]
    by_id = {row["RUN"]: row for row in rows}
    assert set(by_id) == {ids[name] for name in "abcde"}  # whole ids
    assert by_id[ids["b"]]["RMSE"] == "0.91" and by_id[ids["b"]]["tags.stage"] == "try"
    assert by_id[ids["c"]]["tags.team"] == "" and json.loads(by_id[ids["c"]]["PARAMETERS"]) == {"alpha": "0.5",
                                                                                               "seed": "2"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", by_id[ids["a"]]["STARTED"])
    assert float(by_id[ids["a"]]["TIME"]) > 0
    markdown = _list(project, "-x", "Default", "--format", "markdown", "-n", "2").stdout.splitlines()
    assert markdown[0].startswith("| RUN | STARTED | STATUS |") and markdown[1].startswith("|---|---|")
    assert len(markdown) == 4 and all(line.startswith("| ") and line.endswith(" |") for line in markdown[2:])
    empty = _list(project, "-x", "nothing-here", "--format", "csv").stdout
    assert empty.strip() == "RUN,STARTED,STATUS,TIME,EXPERIMENT,ENTRY,PARAMETERS"


def test_a_sweep_by_a_unique_prefix(project) -> None:
    _folder, ids = project
    swept = _names(project, "--sweep", ids["sweep"][:6])
    assert len(swept) == 2 and all(name.startswith("listing:main") for name in swept)
    assert _names(project, "--sweep", ids["sweep"]) == swept
    missing = _list(project, "--sweep", "ffffffff" if not ids["sweep"].startswith("f") else "00000000",
                    check_exit=USAGE)
    assert "No sweep" in missing.stderr


def test_times_carry_their_zone(project) -> None:
    here = _rows(_list(project, "-n", "1", env={"TZ": "XYZ-3"}).stdout)[1][1]
    utc = _rows(_list(project, "-n", "1", "--utc", env={"TZ": "XYZ-3"}).stdout)[1][1]
    assert here.endswith(" +0300") and utc.endswith(" UTC")
    assert (int(here[11:13]) - int(utc[11:13])) % 24 == 3


def test_tags_are_shown(project) -> None:
    _folder, ids = project
    rows = _rows(_list(project, "-x", "Default", "--sort", "run_name").stdout)
    assert rows[0][-1] == "TAGS" and rows[2][-1] == "team=nlp stage=try"
    shown = run_proj("runs", "show", ids["b"], cwd=project[0], check_exit=0).stdout
    assert "tags         team=nlp stage=try" in shown
