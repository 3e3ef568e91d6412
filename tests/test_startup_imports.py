"""What `proj run` of a local project and `proj --help` import, against explicit allow-lists.

Start-up is proj's most repeated cost (docs/benchmarks.md): every module imported on these
paths is paid by every run. This test is deterministic (it compares module names, not times),
so a module that slips onto a path fails here instead of slowly raising the benchmark's ratio.
To add a module to a path, add it below and say in the commit why the path needs it.

Three lists: proj's own modules, each named; third-party packages, by top-level name; and the
standard library, where the modules too heavy for these paths are named (the rest of the
standard library differs between Python versions, and typer imports much of it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# --- proj's own modules --------------------------------------------------------------------

# What `proj --help` needs: the command line, and each built-in environment kind's options.
HELP = {
    "runner", "runner.version", "runner.errors", "runner.cli", "runner.cli.app", "runner.cli.output", "runner.secrets",
    "runner.cli.completion", "runner.words", "runner.cli.streams", "runner.cli.project", "runner.cli.run",
    "runner.cli.run_report", "runner.cli.kind_options", "runner.cli.quick_run", "runner.cli.run_command",
    "runner.cli.reproduce", "runner.cli.runs", "runner.cli.runs_control", "runner.cli.env", "runner.cli.ui",
    "runner.cli.init", "runner.cli.formats", "runner.cli.compare", "runner.cli.gc", "runner.cli.runs_list",
    "runner.cli.runs_manage",
    "runner.environments", "runner.environments.base", "runner.environments.kind", "runner.environments.registry",
    "runner.environments.local", "runner.environments.virtualenv_kind", "runner.environments.conda_kind",
    "runner.environments.docker_kind", "runner.host",
    "runner.invocation", "runner.project", "runner.limits", "runner.texts",
}

# What `proj run` of a local folder needs: its plain command line read without typer
# (runner.cli.quick_run), reading the MLproject, the local store, the local backend and the
# supervisor. Not here, among others: typer and the typer command modules, git (gitmirror),
# archives and downloads, the capture's readers (runner.capture.runs, .view, .filestore: a run
# that logged nothing with MLflow has nothing to read), schema checking beyond the cached
# verdict, YAML parsing beyond the kept parse (runner.yamlparse), and the other kinds' section
# readers.
RUN = {
    "runner", "runner.version", "runner.errors", "runner.cli", "runner.cli.output", "runner.secrets",
    "runner.cli.quick_run", "runner.cli.run_command", "runner.cli.run_report", "runner.cli.formats",
    "runner.words", "runner.cli.streams", "runner.keptlog", "runner.tracking.reserve",
    "runner.environments", "runner.environments.base", "runner.environments.kind", "runner.environments.registry",
    "runner.environments.local", "runner.environments.virtualenv_kind", "runner.environments.conda_kind",
    "runner.environments.docker_kind",
    "runner.invocation", "runner.project", "runner.limits", "runner.texts",
    "runner.api", "runner.lifecycle", "runner.backends", "runner.backends.base", "runner.backends.config",
    "runner.backends.local", "runner.supervisor", "runner.supervision", "runner.process", "runner.stopping",
    "runner.procfs", "runner.host", "runner.command", "runner.grammar", "runner.params", "runner.experiments",
    "runner.pathvalues", "runner.sources", "runner.spec", "runner.problems", "runner.yamldoc",
    "runner.schema_check", "runner.locations", "runner.projectconfig", "runner.runfiles", "runner.atomicfile",
    "runner.tracking", "runner.tracking.base", "runner.tracking.local", "runner.tracking.local_schema",
    "runner.tracking.local_db", "runner.tracking.local_rows",
    "runner.resources", "runner.archives", "runner.runmatch", "runner.runview",
    "runner.capture", "runner.capture.store", "runner.capture.location", "runner.capture.settled", "runner.outputs",
}

# --- third-party packages, by top-level name -------------------------------------------------

# typer and what it imports unconditionally. Not rich: typer loads it only for rich help and
# pretty tracebacks, both turned off (runner/cli/app.py). A plain `proj run` of a project whose
# MLproject was read before imports no third-party package at all: not typer (the quick path),
# not PyYAML (the kept parse, and the capture's meta.yaml written by runner.capture.location).
THIRD_PARTY_HELP = {"typer", "annotated_doc", "shellingham", "typing_extensions"}
THIRD_PARTY_RUN: set[str] = set()

# --- the standard library: what these paths must not import ---------------------------------

HEAVY_STANDARD_LIBRARY = {
    "http", "urllib.request", "email", "ssl", "socket", "asyncio", "concurrent", "multiprocessing", "xml",
    "zipfile", "tarfile", "sqlite3.dump", "tomllib", "unittest", "pydoc", "pdb", "doctest", "logging",
    "argparse", "ctypes", "decimal", "fractions", "statistics", "csv", "html", "mimetypes", "queue",
}
# Heavy for `proj run` in particular (typer imports them for every other command): uuid imports
# platform; hashlib loads OpenSSL; difflib only for a "did you mean" (runner.words); shutil its
# compression modules (runner.host.program_on_path); subprocess only for tools, not the command.
HEAVY_FOR_RUN = HEAVY_STANDARD_LIBRARY | {"uuid", "platform", "hashlib", "_hashlib", "difflib", "gettext", "shutil",
                                          "bz2", "lzma", "subprocess", "locale"}
STANDARD_LIBRARY = set(sys.stdlib_module_names)

# --- the dataclasses a plain `proj run` defines ----------------------------------------------

# Python 3.11 compiles each dataclass's methods at import, six for a frozen one (0.37 ms of CPU
# each on our machines): the run path's 45 frozen ones were a quarter of `proj run`'s CPU time.
# Immutable records are therefore NamedTuples (docs/architecture.md); a dataclass stays where a
# record needs what a tuple cannot give, named here with the reason.
RUN_DATACLASSES = {
    "runner.environments.base.PreparedEnvironment",  # subclassed by the kinds that need more
    "runner.outputs.MetricSummary",  # a field named `count`, which a tuple's method would shadow
    "runner.params.ResolvedParams",  # iterates over its parameters, not over its fields
    # mutable: built up while a run is planned, read and recorded
    "runner.api.RunPlan", "runner.sources.ProjectSource",
    "runner.tracking.base.RunRecord", "runner.tracking.base.SourceRecord", "runner.tracking.base.EnvironmentRecord",
    "runner.tracking.base.ParameterRecord", "runner.tracking.base.Reproduction", "runner.tracking.base.JobRecord",
    "runner.tracking.base.MlflowData", "runner.tracking.base.LoggedModel", "runner.tracking.base.ParameterConflict",
}


# Runs proj as `python -m runner` does, and lists the modules loaded when it exits (not
# `-X importtime`: it does not see modules loaded through importlib, as runner.cli loads commands).
_LISTING = """
import atexit, runpy, sys
before, listing = set(sys.modules), sys.argv.pop(1)
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(set(sys.modules) - before))))
runpy.run_module("runner", run_name="__main__", alter_sys=True)
"""


# The same, listing instead the dataclasses that proj's loaded modules define.
_DATACLASSES = """
import atexit, dataclasses, runpy, sys
listing = sys.argv.pop(1)
def defined():
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "runner":
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == name and dataclasses.is_dataclass(value):
                    yield f"{name}.{value.__qualname__}"
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(set(defined())))))
runpy.run_module("runner", run_name="__main__", alter_sys=True)
"""


def imports_of(*args: str, cwd: Path, script: str = _LISTING) -> set[str]:
    """Every module the proj process imports for `proj ARGS` (its own process: not the
    supervisor's, nor the command's), beyond what the interpreter imports at every start; or,
    with `script=_DATACLASSES`, the dataclasses those modules define."""
    listing = cwd.parent / "imported.txt"
    done = subprocess.run([sys.executable, "-c", script, str(listing), *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split())


def unexpected(imported: set[str], own: set[str], third_party: set[str],
               heavy: set[str] = HEAVY_STANDARD_LIBRARY) -> list[str]:
    found = []
    for module in sorted(imported):
        top = module.split(".")[0]
        if top == "runner":
            if module not in own:
                found.append(module)
        elif top in STANDARD_LIBRARY or top.lstrip("_") in STANDARD_LIBRARY:
            if any(module == name or module.startswith(name + ".") for name in heavy):
                found.append(module)
        elif top not in third_party and not top.startswith("_cython_"):  # Cython's runtime, named by version
            found.append(module)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text('name: trivial\nentry_points:\n  main:\n    command: "true"\n')
    return folder


def test_proj_run_of_a_local_project_imports_only_what_it_needs(project: Path) -> None:
    imports_of("run", ".", cwd=project)  # the first run fills the schema check's cache, as any run's would
    imported = imports_of("run", ".", cwd=project)
    assert unexpected(imported, RUN, THIRD_PARTY_RUN, HEAVY_FOR_RUN) == []
    assert "runner.tracking.local" in imported and "runner.backends.local" in imported  # the test saw a run


def test_proj_run_defines_dataclasses_only_for_records_a_tuple_cannot_be(project: Path) -> None:
    imports_of("run", ".", cwd=project)
    defined = imports_of("run", ".", cwd=project, script=_DATACLASSES)
    assert sorted(defined - RUN_DATACLASSES) == [], "an immutable record: make it a NamedTuple, or say here why not"
    assert sorted(RUN_DATACLASSES - defined) == []  # a stale name would leave room for the next one


def test_proj_help_imports_only_the_command_line(project: Path) -> None:
    imported = imports_of("--help", cwd=project)
    assert unexpected(imported, HELP, THIRD_PARTY_HELP) == []
    assert "runner.cli.init" in imported  # every command module, to list the commands


def test_the_lists_name_only_modules_that_exist() -> None:
    """A list that names a module which no longer exists would hide a regression behind a stale name."""
    root = Path(__file__).resolve().parent.parent
    for name in HELP | RUN:
        parts = name.split(".")
        assert (root.joinpath(*parts).with_suffix(".py").is_file()
                or (root.joinpath(*parts) / "__init__.py").is_file()), name


def test_import_runner_loads_nothing_but_the_package(tmp_path: Path) -> None:
    """A project that logs imports `runner` on every run: the package itself, nothing more (not
    even `typing`, 10 ms), until a public name is used."""
    listing = "import sys; before = set(sys.modules); import runner; print(sorted(set(sys.modules) - before))"
    # -S: without site-packages, whose .pth files may import typing themselves
    done = subprocess.run([sys.executable, "-S", "-c", listing], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.stdout.strip() == "['runner']", done.stderr
