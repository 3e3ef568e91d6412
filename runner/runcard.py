"""Run cards: a recorded run as one self-contained, human-readable YAML file.

A card holds what `proj rerun` needs on another machine with an empty store: where the source
is (without secrets: the remote a clone came from, so that another machine can fetch it), the
exact commit and uncommitted changes, the entry point, the parameter values, and the
environment's lock. Its outcome (status, metrics) is what `proj rerun --check` and `proj runs
diff` compare a re-run with. Cards are validated against schemas/run-card.schema.json when
loaded; every version proj ever wrote stays readable (CARD_VERSIONS).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import SpecError
from runner.params import is_downloadable
from runner.problems import Problem, Severity
from runner.sources import is_git_url, split_subdirectory
from runner.tracking.base import RunRecord, TrackingStore
from runner.version import __version__

CARD_VERSION = 2  # 2: a clone's remote as the source; ran_in, parameter_values, environment.python
CARD_VERSIONS = (1, 2)  # what load_card reads


@dataclass(frozen=True)
class CardSource:
    kind: str  # git | local | archive
    location: str  # a git URL without credentials, a local folder (the repository root if any), an archive
    commit: str | None = None
    subdirectory: str = ""
    version: str | None = None  # as originally requested
    diff: bytes | None = None  # uncommitted changes the run had
    diff_hash: str | None = None
    archive_sha256: str | None = None  # kind archive: the archive that must be fetched again
    ran_in: str | None = None  # the project folder on the original machine (informative; None before v2)


@dataclass(frozen=True)
class CardEnvironment:
    kind: str
    key: str | None = None
    lock_name: str | None = None
    lock: bytes | None = None
    details: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] | None = None  # the kind's settings that shaped the run; None: not recorded
    python: str | None = None  # the interpreter's version in the environment (None before v2)


@dataclass(frozen=True)
class CardBackend:
    name: str | None = "local"  # None: a card written before proj exported the backend
    config: dict[str, Any] | None = None  # --backend-config; None: not recorded


@dataclass(frozen=True)
class RunCard:
    run_id: str
    experiment: str
    entry_point: str
    parameters: dict[str, str]  # passed again as -P NAME=VALUE
    command: str  # as rendered then (for people; it is rendered again)
    source: CardSource
    environment: CardEnvironment
    proj_version: str
    outcome: dict[str, Any] = field(default_factory=dict)
    # Parameters recorded as *** (they held a secret): name -> the variable that held it.
    secret_parameters: dict[str, str] = field(default_factory=dict)
    backend: CardBackend = field(default_factory=CardBackend)
    # Every parameter's typed value as the program received it, defaults included (None before v2).
    parameter_values: dict[str, Any] | None = None


def card_from_run(store: TrackingStore, record: RunRecord) -> RunCard:
    s, env = record.source, record.environment
    diff = store.read_attachment(record.run_id, "diff.patch") if "diff.patch" in record.attachments else None
    lock = store.read_attachment(record.run_id, env.lock) if env.lock and env.lock in record.attachments else None
    kind, location = _fetchable(record)
    return RunCard(
        run_id=record.run_id,
        experiment=record.experiment,
        entry_point=record.entry_point,
        parameters=replay_parameters(record),
        command=record.command,
        source=CardSource(kind=kind, location=location, commit=s.commit, subdirectory=s.subdirectory,
                          version=s.version, diff=diff, diff_hash=s.diff_hash, archive_sha256=s.archive_sha256,
                          ran_in=s.path),
        environment=CardEnvironment(kind=env.kind, key=env.key, lock_name=env.lock if lock else None, lock=lock,
                                    details=dict(env.details), options=env.options, python=env.python),
        proj_version=record.proj_version,
        secret_parameters={p.name: p.secret_from for p in record.parameters if p.secret_from and p.given is not None},
        backend=CardBackend(record.backend, record.backend_config),
        outcome={"status": record.status.value, "exit_code": record.exit_code, "host": record.host,
                 "user": record.user, "platform": record.platform, "python_version": record.python_version,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.start_time)),
                 "duration_seconds": record.duration, "metrics": record.metrics},
        parameter_values={p.name: p.value for p in record.parameters},
    )


def replay_parameters(record: RunRecord) -> dict[str, str]:
    """The `-P` values that re-create the run: what was given (paths as the absolute path they
    resolved to, since the original working folder is gone); defaults come from the commit."""
    values = {}
    for p in record.parameters:
        if p.given is not None:
            downloaded = p.type == "path" and is_downloadable(p.given)  # fetched again from its URL
            values[p.name] = str(p.value) if p.type == "path" and not downloaded else p.given
    return values


def _fetchable(record: RunRecord) -> tuple[str, str]:
    """The card's source kind and location: what another machine can fetch. A local folder in a
    clone with a remote travels as that remote (with the commit and the uncommitted diff); a
    folder without one stays a local path, which only this machine (or a clone holding the
    commit: `proj rerun` looks for one) can run."""
    s = record.source
    if s.kind in ("git", "archive"):
        base, _ = split_subdirectory(s.uri)
        return s.kind, _unmasked(base)
    root = s.path[: -len(s.subdirectory) - 1] if s.commit and s.subdirectory and s.path.endswith(
        "/" + s.subdirectory) else s.path  # the repository root
    if s.commit and s.repo_url:
        return "git", _absolute_remote(_unmasked(s.repo_url), Path(root))
    return "local", root


def _unmasked(url: str) -> str:
    return url.replace("***@", "")  # masked credentials: git's own helpers must supply them


def _absolute_remote(url: str, root: Path) -> str:
    """A remote given as a relative path (`git remote add origin ../shared.git`) as an absolute one."""
    if "://" in url or is_git_url(url) or Path(url).is_absolute():
        return url
    return str((root / url).resolve())


def card_to_yaml(card: RunCard) -> str:
    s, env = card.source, card.environment
    data = {
        "card_version": CARD_VERSION,
        "run_id": card.run_id,
        "exported_by": f"proj {__version__}",
        "proj_version": card.proj_version,
        "experiment": card.experiment,
        "source": {"kind": s.kind, "location": s.location, "commit": s.commit, "subdirectory": s.subdirectory,
                   "version": s.version, "diff_sha256": s.diff_hash, **_blob("diff", s.diff),
                   **({"archive_sha256": s.archive_sha256} if s.archive_sha256 else {}),
                   **({"ran_in": s.ran_in} if s.ran_in else {})},
        "entry_point": card.entry_point,
        "parameters": dict(card.parameters),
        **({"parameter_values": dict(card.parameter_values)} if card.parameter_values is not None else {}),
        **({"secret_parameters": dict(card.secret_parameters)} if card.secret_parameters else {}),
        "command": card.command,
        "environment": {"kind": env.kind, "key": env.key, "python": env.python, "lock_file": env.lock_name,
                        **_blob("lock", env.lock), "details": env.details, "options": env.options},
        "backend": {"name": card.backend.name, "config": card.backend.config},
        "outcome": card.outcome,
    }
    header = (f"# proj run card: run {card.run_id}.\n"
              "# Re-run it anywhere with `proj rerun THIS_FILE` (see docs/reproducibility.md).\n")
    return header + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def load_card(path: Path) -> RunCard:
    from runner.limits import CARD_FILE_BYTES
    from runner.schema_check import check_against_schema
    from runner.yamldoc import read_yaml

    document = read_yaml(path, CARD_FILE_BYTES)
    if not isinstance(document.data, dict):
        raise SpecError([Problem(path, 1, 1, Severity.ERROR, "not a run card (expected a mapping)")])
    problems = [p for p in check_against_schema(document, "run-card") if p.is_error]
    if problems:
        raise SpecError(problems)
    data = document.data
    s, env = data["source"], data["environment"]
    return RunCard(
        run_id=data["run_id"], experiment=data["experiment"], entry_point=data["entry_point"],
        parameters={str(k): str(v) for k, v in (data.get("parameters") or {}).items()},
        command=data.get("command", ""),
        source=CardSource(kind=s["kind"], location=s["location"], commit=s.get("commit"),
                          subdirectory=s.get("subdirectory") or "", version=s.get("version"),
                          diff=_unblob(s, "diff"), diff_hash=s.get("diff_sha256"),
                          archive_sha256=s.get("archive_sha256"), ran_in=s.get("ran_in")),
        environment=CardEnvironment(kind=env["kind"], key=env.get("key"), lock_name=env.get("lock_file"),
                                    lock=_unblob(env, "lock"), details=env.get("details") or {},
                                    options=env.get("options"), python=env.get("python")),
        proj_version=data["proj_version"], outcome=data.get("outcome") or {},
        secret_parameters={str(k): str(v) for k, v in (data.get("secret_parameters") or {}).items()},
        backend=_backend(data.get("backend")),
        parameter_values=data.get("parameter_values"),
    )


def _backend(section: dict[str, Any] | None) -> CardBackend:
    """A card's backend; cards written before proj recorded it ran locally, settings unknown."""
    if section is None:
        return CardBackend(None, None)
    return CardBackend(section["name"], section.get("config"))


def _blob(name: str, data: bytes | None) -> dict[str, str | None]:
    """Text when it is UTF-8 (readable in the card), base64 otherwise."""
    if data is None:
        return {name: None}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode()}


def _unblob(section: dict[str, Any], name: str) -> bytes | None:
    if section.get(f"{name}_base64"):
        return base64.b64decode(section[f"{name}_base64"])
    value = section.get(name)
    return value.encode() if isinstance(value, str) else None


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (diffs, locks, commands) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def card_view(card: RunCard) -> dict[str, Any]:
    """The card as a run view (the shape `proj runs show --format json` prints), as far as a card
    knows it: what `runner.rundiff` and `runner.verdict` compare a run with. A card written before
    version 2 holds only the parameters given, as text."""
    s, env, outcome = card.source, card.environment, card.outcome
    values = card.parameter_values if card.parameter_values is not None else card.parameters
    return {
        "run_id": card.run_id, "experiment": card.experiment, "entry_point": card.entry_point,
        "command": card.command,
        "source": {"kind": s.kind, "uri": s.location, "path": s.ran_in or "", "commit": s.commit,
                   "subdirectory": s.subdirectory, "dirty": bool(s.diff) if s.commit else None,
                   "diff_hash": s.diff_hash, "version": s.version},
        "parameters": [{"name": name, "value": value, "given": card.parameters.get(name)}
                       for name, value in values.items()],
        "parameters_given_only": card.parameter_values is None,
        "environment": {"kind": env.kind, "key": env.key, "python": env.python, "options": env.options},
        "metrics": outcome.get("metrics") or {},
        "backend": card.backend.name, "backend_config": card.backend.config,
        "proj_version": card.proj_version,
        **{name: outcome.get(name) for name in ("status", "exit_code", "host", "user", "platform", "python_version")},
        "duration": outcome.get("duration_seconds"),
    }
