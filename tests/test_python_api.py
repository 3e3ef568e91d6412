"""The public Python API: `import runner` stays light and typed, the logging calls behave alike
under proj and without it, `runner.run` runs a project and `runner.search_runs` finds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE

SPEC = """\
name: api
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      code: {type: int, default: 0}
      team: {type: string, default: red}
    command: "python train.py {alpha} {code} {team}"
  checks:
    command: "python checks.py"
  twice:
    parameters:
      first: {type: int, default: 1}
    command: "python log_lr.py {first} && python log_lr.py 2"
"""
TRAIN = """\
import sys, runner
alpha, code, team = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(f"training with alpha={alpha}")
runner.log_params({"optimizer": "adam", "layers": 3})
runner.set_tag("team", team)
runner.log_metric("rmse", round(1 - alpha, 6))
runner.log_metrics({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")}, step=2)
sys.exit(code)
"""
LOG_LR = "import sys, runner; runner.log_param('lr', sys.argv[1])\n"
# Every call a user can get wrong, and what each does; printed the same with and without proj.
CHECKS = """\
import math, warnings, runner
warnings.simplefilter("ignore")
calls = [
    ("metric nan", lambda: runner.log_metric("loss", math.nan)),
    ("metric text", lambda: runner.log_metric("loss", "0.5")),
    ("metric bool", lambda: runner.log_metric("loss", True)),
    ("metric bad name", lambda: runner.log_metric("lo$s", 1.0)),
    ("metric dotted name", lambda: runner.log_metric("a/../b", 1.0)),
    ("metric long name", lambda: runner.log_metric("x" * 251, 1.0)),
    ("metric step", lambda: runner.log_metric("loss", 1.0, step=-1)),
    ("metric float step", lambda: runner.log_metric("loss", 1.0, step=2.5)),
    ("param", lambda: runner.log_param("lr", 0.1)),
    ("param same", lambda: runner.log_param("lr", "0.1")),
    ("param changed", lambda: runner.log_param("lr", 0.2)),
    ("param name type", lambda: runner.log_params({3: "x"})),
    ("tag", lambda: runner.set_tag("stage", "one")),
    ("tag again", lambda: runner.set_tags({"stage": "two"})),
    ("artifact missing", lambda: runner.log_artifact("no-such-file")),
    ("artifact outside", lambda: runner.log_artifact("checks.py", "../x.py")),
]
for what, call in calls:
    try:
        result = call()
        print(what, "-> ok", repr(result) if result is not None else "")
    except Exception as err:
        print(what, "->", type(err).__name__, str(err).split(":")[0])
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "api"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    (folder / "train.py").write_text(TRAIN)
    (folder / "checks.py").write_text(CHECKS)
    (folder / "log_lr.py").write_text(LOG_LR)
    return folder


def python_env(**extra: str) -> dict[str, str]:
    """This interpreter first on PATH (the entry points call `python`), no proj run around."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJ_OUTPUT", "PROJ_RUN", "MLFLOW_RUN"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def run_python(script: str, cwd: Path, check_exit: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=python_env(**env),
                          capture_output=True, text=True, timeout=300)
    assert check_exit is None or done.returncode == check_exit, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


# --- the package ---------------------------------------------------------------------------------


def test_dir_lists_the_public_api_and_importing_it_loads_nothing_else(tmp_path):
    shown = run_python("""
        import json, sys, runner
        loaded = sorted(m for m in sys.modules if m.startswith("runner."))
        public = [n for n in dir(runner) if not n.startswith("_")]
        resolved = {n: type(getattr(runner, n)).__name__ for n in runner.__all__}
        print(json.dumps([loaded, public, resolved]))
    """, tmp_path)
    loaded, public, resolved = json.loads(shown.stdout)
    assert loaded == []
    assert public == sorted(["log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags",
                             "log_artifact", "run", "search_runs", "RunFailedError", "RunRecord", "RunStatus",
                             "ProjError"])
    assert resolved["run"] == "function" and resolved["RunStatus"] == "EnumType" and resolved["__version__"] == "str"


def test_type_checkers_read_the_package_itself_and_it_declares_every_public_name():
    # No stub beside the package: with one, type checkers would read the stub and skip the code.
    assert not (REPO_ROOT / "runner" / "__init__.pyi").exists()
    import ast

    import runner

    tree = ast.parse((REPO_ROOT / "runner" / "__init__.py").read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    declared = [alias.asname for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names]
    assert sorted(declared) == sorted(runner.__all__)
    assert (REPO_ROOT / "runner" / "py.typed").is_file()


def test_a_type_checker_sees_the_api_types(tmp_path):
    user = tmp_path / "user.py"
    user.write_text(textwrap.dedent("""
        import runner
        record: runner.RunRecord = runner.run(".", parameters={"alpha": 0.5})
        status: runner.RunStatus = record.status
        runner.log_metric("rmse", 0.5, step=1)
        runner.log_metric("rmse", "high")
        found: list[runner.RunRecord] = runner.search_runs("metrics.rmse < 1", output_format="records")
    """))
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "MYPYPATH": str(REPO_ROOT)})
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "user.py:6:" in errors[0] and 'Argument 2 to "log_metric"' in errors[0], \
        checked.stdout


# --- logging from a project ------------------------------------------------------------------------


def test_every_logging_call_behaves_the_same_with_and_without_proj(project):
    alone = run_python("exec(open('checks.py').read())", project)
    under = run_proj("run", ".", "-e", "checks", cwd=project, env=python_env(), check_exit=0)
    assert alone.returncode == 0, alone.stderr
    lines = alone.stdout.splitlines()
    assert lines == under.stdout.splitlines()
    assert lines == [
        "metric nan -> ok ", "metric text -> TypeError metric 'loss' must be a number (NaN and infinities included), "
        "not str ('0.5')", "metric bool -> TypeError metric 'loss' must be a number (NaN and infinities included), "
        "not bool (True)", "metric bad name -> ValueError invalid metric name 'lo$s'",
        "metric dotted name -> ValueError invalid metric name 'a/../b'",
        f"metric long name -> ValueError metric name '{'x' * 40}'... is 251 characters long; at most 250 are allowed",
        "metric step -> ValueError the step of metric 'loss' must be a whole number from 0 to 2^63-1, not -1",
        "metric float step -> ValueError the step of metric 'loss' must be a whole number from 0 to 2^63-1, not 2.5",
        "param -> ok 0.1", "param same -> ok '0.1'", "param changed -> ValueError parameter 'lr' was logged as '0.1'; "
        "it cannot change to '0.2' (MLflow keeps one value per parameter)",
        "param name type -> TypeError a parameter name must be a str, not int (3)", "tag -> ok ", "tag again -> ok ",
        "artifact missing -> FileNotFoundError no file or folder 'no-such-file' to log as an artifact",
        "artifact outside -> ValueError artifact name '../x.py' must stay inside the run's output folder",
    ]
    view = show_run(run_id_of(under), project)
    assert view["mlflow"]["params"] == {"lr": "0.1"} and view["mlflow"]["tags"] == {"stage": "two"}
    assert view["metrics"]["loss"]["count"] == 1


def test_outside_proj_one_warning_per_kind_of_data_names_the_callers_line(tmp_path):
    shown = run_python("""
        import runner
        runner.log_metric("a", 1)
        runner.log_metric("b", 2)
        runner.log_param("p", 1)
        runner.set_tag("t", 1)
    """, tmp_path)
    warnings = [line for line in shown.stderr.splitlines() if "RuntimeWarning" in line]
    assert warnings == [
        "<string>:3: RuntimeWarning: PROJ_OUTPUT_DIR is not set (not running under `proj run`): metrics and "
        "artifacts are not kept",
        "<string>:5: RuntimeWarning: PROJ_OUTPUT_DIR is not set (not running under `proj run`): parameters and "
        "tags are not kept"]


def test_parameters_tags_and_non_finite_metrics_land_in_the_run(project):
    done = run_proj("run", ".", "-P", "alpha=0.25", "-P", "team=blue", cwd=project, env=python_env(), check_exit=0)
    view = show_run(run_id_of(done), project)
    assert view["mlflow"]["params"] == {"optimizer": "adam", "layers": "3"}
    assert view["mlflow"]["tags"] == {"team": "blue"}
    metrics = {key: summary["last"] for key, summary in view["metrics"].items()}
    assert metrics["rmse"] == 0.75 and metrics["inf"] == float("inf") and metrics["ninf"] == float("-inf")
    assert metrics["nan"] != metrics["nan"]  # NaN
    text = run_proj("runs", "show", view["run_id"], cwd=project, check_exit=0).stdout
    assert "param optimizer = 'adam'" in text and "tag   team = 'blue'" in text
    assert "MLflow run status RUNNING" not in text


def test_a_parameter_cannot_change_across_processes_of_one_run(project):
    done = run_proj("run", ".", "-e", "twice", cwd=project, env=python_env())
    assert done.returncode == 1
    assert "ValueError: parameter 'lr' was logged as '1' in this run; it cannot change to '2'" in done.stdout
    assert show_run(run_id_of(done), project)["mlflow"]["params"] == {"lr": "1"}


KILLED_MID_TAG = """\
import os, signal, runner
runner.set_tag("team", "kept")
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed between writing and renaming
runner.set_tag("stage", "lost")
"""


def test_a_tag_write_cut_short_leaves_no_stray_tag_in_the_run(project):
    (project / "killed.py").write_text(KILLED_MID_TAG)
    (project / "MLproject").write_text(SPEC + "  killed:\n    command: python killed.py\n")
    done = run_proj("run", ".", "-e", "killed", cwd=project, env=python_env())
    assert done.returncode != 0
    # The temporary file of the cut-short write is not in tags/, so it is not read as a tag.
    assert show_run(run_id_of(done), project)["mlflow"]["tags"] == {"team": "kept"}


# --- runner.run and runner.search_runs -----------------------------------------------------------


def last_json(output: str) -> object:
    """What a script printed last as JSON (the projects' own output comes before it)."""
    return json.loads(output.strip().splitlines()[-1])


def test_run_returns_the_record_and_search_runs_finds_it(project):
    done = run_python("""
        import json, logging, runner
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        records = [runner.run(".", parameters={"alpha": a, "team": t})
                   for a, t in ((0.1, "red"), (0.6, "blue"), (0.3, "blue"))]
        print(json.dumps([[r.run_id, r.status.value, r.exit_code, r.parameter_values()["alpha"]] for r in records]))
        found = runner.search_runs(filter="tags.team = 'blue' and metrics.rmse < 0.8", order_by="metrics.rmse",
                                   output_format="records")
        print(json.dumps([r.run_id for r in found]))
    """, project)
    made = json.loads(done.stdout.strip().splitlines()[-2])
    assert [status for _, status, _, _ in made] == ["FINISHED"] * 3 and {code for *_, code, _ in made} == {0}
    assert [alpha for *_, alpha in made] == ["0.1", "0.6", "0.3"]
    ids = [run_id for run_id, *_ in made]
    assert last_json(done.stdout) == [ids[1], ids[2]]  # rmse 0.4, then 0.7; red's 0.9 is filtered out
    assert "training with alpha=0.6" in done.stdout  # the project's output reaches the script's stdout
    assert f"runner: run {ids[0]} started in experiment 'Default'" in done.stderr
    listed = json.loads(run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout)
    assert sorted(r["run_id"] for r in listed) == sorted(ids)  # the CLI sees the same store


def test_run_raises_for_a_failed_run_unless_told_not_to_and_refuses_bad_parameters(project):
    done = run_python("""
        import json, runner
        try:
            runner.run(".", parameters={"code": 3})
        except runner.RunFailedError as err:
            print("raised:", err.record.status.value, err.record.exit_code, str(err).splitlines()[0])
        record = runner.run(".", parameters={"code": 4}, check=False)
        print("returned:", record.status.value, record.exit_code)
        try:
            runner.run(".", parameters={"alpha": "high"})
        except runner.ProjError as err:
            print("refused:", type(err).__name__, err.exit_code, str(err).splitlines()[0])
        print(len(runner.search_runs(output_format="records")))
    """, project)
    lines = done.stdout.splitlines()
    assert any(line.startswith("raised: FAILED 3 run ") and line.endswith("ended FAILED with exit code 3")
               for line in lines), lines
    assert "returned: FAILED 4" in lines
    assert any(line.startswith(f"refused: ParameterError {USAGE} ") and "'high'" in line for line in lines), lines
    assert lines[-1] == "2"  # the refused run recorded nothing


def test_search_runs_orders_by_any_key_and_refuses_bad_filters(project):
    done = run_python("""
        import json, runner
        for alpha, team in ((0.2, "b"), (0.5, "a"), (0.9, "b"), (0.4, "a")):
            runner.run(".", parameters={"alpha": alpha, "team": team})
        def alphas(**query):
            return [r.parameter_values()["alpha"] for r in runner.search_runs(output_format="records", **query)]
        results = {
            "newest first": alphas(),
            "tag then metric desc": alphas(order_by=["tags.team", "metrics.rmse DESC"]),
            "param desc": alphas(order_by="params.alpha DESC"),
            "oldest first": alphas(order_by="start_time"),
            "first two by rmse": alphas(order_by="metrics.rmse", max_results=2),
            "attributes": alphas(filter="status = 'FINISHED' and params.alpha > 0.3 and entry_point = 'main'"),
            "none": alphas(filter="metrics.rmse > 5"),
        }
        try:
            runner.search_runs(filter="metrics.rmse < 'low'")
        except runner.ProjError as err:
            results["error"] = str(err).splitlines()[0]
        print(json.dumps(results))
    """, project)
    assert last_json(done.stdout) == {
        "newest first": ["0.4", "0.9", "0.5", "0.2"],
        "tag then metric desc": ["0.4", "0.5", "0.2", "0.9"],
        "param desc": ["0.9", "0.5", "0.4", "0.2"],
        "oldest first": ["0.2", "0.5", "0.9", "0.4"],
        "first two by rmse": ["0.9", "0.5"],
        "attributes": ["0.4", "0.9", "0.5"],
        "none": [],
        "error": "Invalid filter at column 16: metrics.rmse is a number: write it without quotes",
    }


def test_search_runs_gives_records_without_pandas_and_says_what_is_missing(project):
    done = run_python("""
        import sys
        sys.modules["pandas"] = None  # as if pandas were not installed
        import runner
        print(type(runner.search_runs()).__name__)
        try:
            runner.search_runs(output_format="pandas")
        except runner.ProjError as err:
            print(str(err).splitlines()[0])
    """, project)
    assert done.stdout.splitlines() == [
        "list", "output_format='pandas' needs pandas, which is not installed here"]


# --- on an MLflow tracking server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> str:
    from conftest import require
    from helpers.mlflow_server import mlflow_installed, mlflow_python

    url = os.environ.get("PROJ_TEST_MLFLOW_URI", "")
    require("mlflow", bool(url), "PROJ_TEST_MLFLOW_URI is not set (see scripts/provision-ci.sh)")
    ok, why = mlflow_installed(mlflow_python())
    require("mlflow", ok, why)
    return url


@pytest.mark.mlflow
def test_on_a_server_parameters_and_tags_go_to_the_run_and_cannot_change(project, server_url):
    import uuid

    experiment = f"api-{uuid.uuid4().hex[:10]}"
    common = ("--tracking-uri", server_url, "--experiment-name", experiment)
    done = run_proj("run", ".", "-P", "team=green", *common, cwd=project, env=python_env(), check_exit=0)
    view = show_run(run_id_of(done), project, "--tracking-uri", server_url)
    # On a server proj's own parameters are MLflow parameters of the run too.
    assert view["mlflow"]["params"] == {"optimizer": "adam", "layers": "3", "alpha": "0.5", "code": "0",
                                        "team": "green"}
    assert view["mlflow"]["tags"]["team"] == "green"
    twice = run_proj("run", ".", "-e", "twice", *common, cwd=project, env=python_env())
    assert twice.returncode == 1 and "ValueError: the MLflow server refused to log parameter 'lr'" in twice.stdout


@pytest.mark.mlflow
def test_search_runs_as_a_dataframe_matches_mlflow_search_runs(project, server_url):
    import uuid

    from helpers.mlflow_server import mlflow_python

    experiment = f"api-{uuid.uuid4().hex[:10]}"
    for alpha, team in ((0.2, "b"), (0.5, "a"), (0.9, "b")):
        run_proj("run", ".", "-P", f"alpha={alpha}", "-P", f"team={team}", "--tracking-uri", server_url,
                 "--experiment-name", experiment, cwd=project, env=python_env(), check_exit=0)
    script = f"""
        import json, mlflow, runner
        mlflow.set_tracking_uri({server_url!r})
        query = dict(filter_string="tags.team = 'b' and metrics.rmse < 0.9", order_by=["metrics.rmse DESC"])
        theirs = mlflow.search_runs(experiment_names=[{experiment!r}], **query)
        ours = runner.search_runs(query["filter_string"], query["order_by"], experiment_names=[{experiment!r}],
                                  tracking_uri={server_url!r})
        shared = [c for c in theirs.columns if c.startswith(("metrics.", "params."))]
        print(json.dumps({{
            "type": type(ours).__name__, "theirs": list(theirs.run_id), "ours": list(ours.run_id),
            "missing": [c for c in shared if c not in ours.columns],
            "same values": ours[shared].astype(str).values.tolist() == theirs[shared].astype(str).values.tolist(),
            "times": [str(ours.start_time.dtype), str(ours.end_time.dtype)],
        }}))
    """
    done = subprocess.run([mlflow_python(), "-c", textwrap.dedent(script)], cwd=project, capture_output=True,
                          text=True, timeout=300, env={**python_env(), "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    result = last_json(done.stdout)
    assert result["type"] == "DataFrame" and len(result["ours"]) == 2 and result["ours"] == result["theirs"]
    assert result["missing"] == [] and result["same values"] is True
    assert result["times"] == ["datetime64[ns, UTC]"] * 2


def test_ctrl_c_records_the_run_killed_and_raises_keyboard_interrupt(tmp_path):
    import signal

    from helpers.processes import wait_for

    (tmp_path / "MLproject").write_text('name: slow\nentry_points:\n  main:\n    command: "touch started; sleep 60"\n')
    script = textwrap.dedent("""
        import runner
        try:
            runner.run(".")
        except KeyboardInterrupt:
            print("interrupted:", runner.search_runs(output_format="records")[0].status.value)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=python_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (tmp_path / "started").exists() or None, timeout=60, what="the run to start")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.strip().endswith("interrupted: KILLED"), err
