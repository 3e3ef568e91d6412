"""`proj env ...`: look at, remove and prune cached environments; write lock files."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from runner.cli.app import env_app
from runner.cli.kind_options import with_kind_options
from runner.cli.output import emit, emit_json, note, table, warn
from runner.errors import UsageError


class ListFormat(str, Enum):
    table = "table"
    json = "json"


@env_app.command("list")
def list_envs(output_format: ListFormat = typer.Option(ListFormat.table, "--format", help="table or json.")) -> None:
    """List cached environments, most recently used first."""
    from runner.environments import cache
    from runner.runview import size

    environments = sorted(cache.list_environments(), key=cache.last_used, reverse=True)
    if output_format is ListFormat.json:
        emit_json([{"key": e.key, "kind": e.kind, "path": str(e.path), "size": cache.size_of(e.path),
                    "last_used": cache.last_used(e), "project": e.metadata.get("project"),
                    "metadata": e.metadata} for e in environments])
        return
    if not environments:
        emit(f"no environments in {cache.envs_root()}")
        return
    rows = [[e.key, e.kind, size(cache.size_of(e.path)), _when(cache.last_used(e)),
             str(e.metadata.get("project") or "")] for e in environments]
    emit(table(rows, ["KEY", "KIND", "SIZE", "LAST USED", "PROJECT"]))


@env_app.command("rm")
def remove_envs(keys: list[str] = typer.Argument(..., help="Environment keys, or unique prefixes of them.")) -> None:
    """Remove cached environments (the next run that needs one builds it again)."""
    from runner.environments import cache

    known = [e.key for e in cache.list_environments()]
    for wanted in keys:
        key = _match(wanted, known)
        if cache.remove(key):
            emit(f"removed {key}")


@env_app.command("prune")
def prune_envs(
    older_than: float = typer.Option(30.0, "--older-than", min=0, metavar="DAYS",
                                     help="Remove environments not used for this many days."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
) -> None:
    """Remove environments not used recently, and whatever killed builds left behind."""
    from runner.environments import cache

    removed = cache.prune(older_than * 86400, dry_run=dry_run)
    for name, reason in removed:
        emit(f"{'would remove' if dry_run else 'removed'} {name}: {reason}")
    if not removed:
        emit("nothing to prune")


@env_app.command("lock")
@with_kind_options("lock")  # --installer, --conda-channel-alias: from the kinds
def lock_env(
    path: Path = typer.Argument(Path("."), help="The project folder [default: .]"),
    env_manager: Optional[str] = typer.Option(
        None, "--env-manager", help="virtualenv, uv, conda or a plugin kind's name [default: from the project]."),
    env_config: Optional[str] = typer.Option(
        None, "--env-config", help="Settings of the environment kind: a JSON or YAML file, or inline JSON."),
    verbose: bool = typer.Option(False, "--verbose", help="Show the resolver's output live."),
    kind_flags: Optional[dict[str, Any]] = None,
) -> None:
    """Resolve the project's environment and write its lock file(s) next to the environment file.

    Commit them: `proj run` then installs exactly what they list (python_env.lock for
    python_env.yaml, conda-lock.yml for conda environments).

    Example: proj env lock . && git add python_env.lock && proj run . --frozen
    """
    from runner.atomicfile import write_atomically
    from runner.backends.config import read_backend_config
    from runner.environments import registry
    from runner.environments.kind import EnvironmentSettings
    from runner.spec import load_project

    if not path.is_dir():
        raise UsageError(f"{path} is not a project folder")
    project = load_project(path)
    for warning in project.warnings:
        warn(warning.as_text())
    kind = registry.choose_kind(project, env_manager)
    given = EnvironmentSettings(flags=kind_flags or {}, config=read_backend_config(env_config, "--env-config"),
                                verbose=verbose)
    for message in registry.ignored_flags(kind, given):
        warn(message)
    environment = kind.create(project, kind.settings(given))
    try:
        files = environment.lock_files(note)
    except NotImplementedError:
        raise UsageError(f"Nothing to lock: {project.root} runs in a {kind.name} environment, which has no lock file",
                         hint="locks are written for python_env.yaml (python_env.lock) and conda files "
                              "(conda-lock.yml); --env-manager picks the manager") from None
    for name, data in files.items():
        write_atomically(project.root / name, data)
        emit(f"wrote {project.root / name}")


def _match(wanted: str, known: list[str]) -> str:
    if wanted in known:
        return wanted
    matches = [key for key in known if key.startswith(wanted) or key.split("-", 1)[-1].startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"No cached environment matches {wanted!r}; see `proj env list`")
    raise UsageError(f"{wanted!r} matches several environments: {', '.join(matches)}; give more of the key")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"
