"""What `proj run` does with its options, apart from reading them: shared by the typer command
(runner/cli/run.py) and the plain command line's quick path (runner/cli/quick_run.py), so that
both behave alike. It imports neither typer nor click."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from runner.cli.formats import OutputFormat, program_output, report_outcome, use_format
from runner.cli.output import emit
from runner.cli.run_report import Reporter, describe_plan, report_continued, report_finished, report_started
from runner.errors import UsageError


def run_command(  # noqa: PLR0913 - one argument per option of `proj run`
    uri: str, entry_point: str = "main", version: Optional[str] = None, param: Optional[list[str]] = None,
    experiment_name: Optional[str] = None, experiment_id: Optional[str] = None, run_id: Optional[str] = None,
    storage_dir: Optional[Path] = None, run_name: Optional[str] = None, tag: Optional[list[str]] = None,
    description: Optional[str] = None, env_manager: Optional[str] = None, tracking_uri: Optional[str] = None,
    backend: str = "local", strict: bool = False, frozen: bool = False, lock: Optional[Path] = None,
    env_config: Optional[str] = None, verbose: bool = False, dry_run: bool = False,
    backend_config: Optional[str] = None, detach: bool = False, sweep: Optional[list[str]] = None,
    trials: Optional[int] = None, seed: Optional[int] = None, objective: Optional[str] = None,
    jobs: Optional[int] = None, max_parallel: Optional[int] = None,
    output_format: OutputFormat = OutputFormat.text, kind_flags: Optional[dict[str, Any]] = None,
) -> int:
    """Run (or sweep, or plan with --dry-run) and report; the exit code `proj run` ends with."""
    import os

    use_format(output_format)

    from runner.api import RunRequest, run_project
    from runner.api import dry_run as check_dry_run
    from runner.backends.config import read_backend_config
    from runner.environments.kind import EnvironmentSettings
    from runner.experiments import choose_experiment
    from runner.params import parse_assignments
    from runner.projectconfig import project_config

    settings = project_config()  # proj.toml or [tool.proj]: defaults below options and variables
    environment = EnvironmentSettings(flags=kind_flags or {}, config=read_backend_config(env_config, "--env-config"),
                                      frozen=frozen, lock_file=lock, verbose=verbose)
    # A continued run stays in its experiment: only options given here are checked against it.
    experiment = choose_experiment(experiment_name, experiment_id, {} if run_id else os.environ,
                                   None if run_id else settings)
    request = RunRequest(
        uri=uri, entry_point=entry_point, version=version, parameters=parse_assignments(param or []),
        experiment=experiment.name, experiment_id=experiment.id, run_id=run_id, run_name=run_name,
        storage_dir=storage_dir, tags=_tags(tag or []), description=description,
        env_manager=env_manager or settings.env_manager,
        tracking_uri=tracking_uri, backend=backend, strict=strict, environment=environment,
        backend_config=read_backend_config(backend_config), detach=detach,
    )
    if sweep or any(option is not None for option in (trials, seed, objective, jobs, max_parallel)):
        from runner.cli.sweep import SweepOptions, run_sweep_command

        if output_format is not OutputFormat.text:
            raise UsageError(f"--format {output_format.value} reports one run; a sweep prints its table",
                             hint="leave out --format, or read the sweep's runs with `proj runs list --sweep ID "
                                  "--format json`")

        options = SweepOptions(sweep or [], trials, seed, objective, jobs, max_parallel)
        run_sweep_command(request, options, dry_run=dry_run)  # exits
    if dry_run:
        with check_dry_run(request, Reporter()) as plan:
            emit(describe_plan(plan))
        return 0
    output = program_output(output_format)
    outcome = run_project(request, Reporter(), terminal=output.terminal,
                          on_started=report_continued if run_id else report_started)
    if detach:
        from runner.cli.runs_control import report_detached

        report_detached(outcome.record, tracking_uri)
        report_outcome(outcome, output_format, tracking_uri, "run", 0)
        return 0
    report_finished(outcome, tracking_uri, output)
    report_outcome(outcome, output_format, tracking_uri, "run", outcome.exit_code)
    return outcome.exit_code


def _tags(pairs: list[str]) -> dict[str, str]:
    if not pairs:
        return {}  # runmanage (the rules for changing recorded runs) only for --tag: start-up budget
    from runner.runmanage import parse_tags

    return parse_tags(pairs)
