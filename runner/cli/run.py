"""`proj run`: the main job (its options; what it does with them is runner/cli/run_command.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import app
from runner.cli.formats import FORMAT_HELP, OutputFormat
from runner.cli.kind_options import manager_help, with_kind_options
from runner.cli.run_command import run_command


@app.command(context_settings={"allow_interspersed_args": True})
@with_kind_options("run")  # --installer, --conda-channel-alias, --build-image, --pull, -A: from the kinds
def run(
    uri: str = typer.Argument(..., metavar="URI", help="A project folder or git URL, optionally with #sub/dir."),
    entry_point: str = typer.Option("main", "-e", "--entry-point", help="Entry point to run (or a .py/.sh script).",
                                     autocompletion=completion.entry_points),
    version: Optional[str] = typer.Option(None, "-v", "--version", help="Git branch, tag or commit to run."),
    param: List[str] = typer.Option([], "-P", "--param-list", help="A parameter, NAME=VALUE (repeatable).",
                                     autocompletion=completion.parameters),
    experiment_name: Optional[str] = typer.Option(
        None, "--experiment-name", autocompletion=completion.experiments,
        help="Experiment to record the run under [default: $PROJ_EXPERIMENT_NAME, $MLFLOW_EXPERIMENT_NAME, "
             "$MLFLOW_EXPERIMENT_ID, or Default]."),
    experiment_id: Optional[str] = typer.Option(None, "--experiment-id",
                                                help="The experiment by id (instead of --experiment-name)."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Continue this existing run instead of starting one."),
    storage_dir: Optional[Path] = typer.Option(
        None, "--storage-dir", envvar="MLFLOW_TMP_DIR",
        help="Where `path` parameters given as http(s) URLs are downloaded (kept) [default: a temporary folder]."),
    run_name: Optional[str] = typer.Option(None, "--run-name", help="A name for the run."),
    tag: List[str] = typer.Option([], "--tag", "-t", metavar="KEY=VALUE",
                                  help="A tag for the run (repeatable; proj runs tag changes them later)."),
    description: Optional[str] = typer.Option(None, "--description", help="A description of the run."),
    env_manager: Optional[str] = typer.Option(None, "--env-manager", help=manager_help()),
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri",
        help="Where to record the run [default: $PROJ_TRACKING_URI, else the .proj here or above]."),
    backend: str = typer.Option(
        "local", "-b", "--backend",
        help="Where the command runs: local (this machine), slurm, or a plugin backend's name (docs/plugins.md)."),
    strict: bool = typer.Option(False, "--strict", help="Treat MLproject warnings as errors."),
    frozen: bool = typer.Option(False, "--frozen", help="Install only from lock files; never resolve."),
    lock: Optional[Path] = typer.Option(None, "--lock", help="Install exactly this environment lock."),
    env_config: Optional[str] = typer.Option(
        None, "--env-config", help="Settings of the environment kind: a JSON or YAML file, or inline JSON."),
    verbose: bool = typer.Option(False, "--verbose", help="Show environment build output live."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the parameters and command; run nothing."),
    backend_config: Optional[str] = typer.Option(
        None, "-c", "--backend-config",
        help="Backend settings: a JSON or YAML file, or inline JSON (docs/slurm.md)."),
    detach: bool = typer.Option(False, "--detach",
                                help="Submit to the scheduler and return at once with the run id."),
    sweep: List[str] = typer.Option(
        [], "--sweep", autocompletion=completion.parameters,
        help="Sweep a parameter (repeatable): NAME=V1,V2,..., NAME=range(START,STOP,STEP), or with --trials "
             "NAME=uniform(LOW,HIGH), loguniform(LOW,HIGH), randint(LOW,HIGH), choice(V1,V2,...) (docs/sweeps.md)."),
    trials: Optional[int] = typer.Option(
        None, "--trials", help="With --sweep: a random search of N points instead of every combination."),
    seed: Optional[int] = typer.Option(None, "--seed", help="With --trials: draw the same points again [default: "
                                                             "a random seed, shown]."),
    objective: Optional[str] = typer.Option(
        None, "--objective", metavar="METRIC[:min|max]",
        help="With --sweep: order the final table by this metric (min unless :max) and name the best point."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs",
                                       help="With --sweep: points run at once here [default: 1]."),
    max_parallel: Optional[int] = typer.Option(
        None, "--max-parallel", help="With --sweep on a scheduler: at most N points running at once."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", help=FORMAT_HELP),
    kind_flags: Optional[dict[str, Any]] = None,
) -> None:
    """Run an entry point of a project and record the run.

    \b
    Examples:
      proj run . -P alpha=0.5                            # the project here, main entry point
      proj run https://github.com/org/repo.git#train -v v1.2 -e evaluate
      proj run . --env-manager uv --frozen               # install only what python_env.lock lists
      proj run . --sweep alpha=0.1,0.5 --sweep 'lr=loguniform(1e-4,1e-1)' --trials 20 --objective rmse
      proj run . -b slurm -c '{"partition": "gpu"}' --detach
    """
    raise typer.Exit(run_command(
        uri, entry_point, version, param, experiment_name, experiment_id, run_id, storage_dir, run_name, tag,
        description, env_manager, tracking_uri, backend, strict, frozen, lock, env_config, verbose, dry_run,
        backend_config, detach, sweep, trials, seed, objective, jobs, max_parallel, output_format, kind_flags))
