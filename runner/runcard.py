"""Run cards: a recorded run as one self-contained, human-readable YAML file.

A card holds what `proj rerun` needs on another machine with an empty store: where the source
is (without secrets), the exact commit and uncommitted changes, the entry point, the parameter
values, and the environment's lock. Outcome fields (status, metrics) are there for people; a
re-run ignores them. Cards are validated against schemas/run-card.schema.json when loaded.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner import __version__
from runner.errors import SpecError
from runner.params import is_downloadable
from runner.problems import Problem, Severity
from runner.sources import split_subdirectory
from runner.tracking.base import RunRecord, TrackingStore

CARD_VERSION = 1


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


@dataclass(frozen=True)
class CardEnvironment:
    kind: str
    key: str | None = None
    lock_name: str | None = None
    lock: bytes | None = None
    details: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] | None = None  # the kind's settings that shaped the run; None: not recorded


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


def card_from_run(store: TrackingStore, record: RunRecord) -> RunCard:
    s, env = record.source, record.environment
    diff = store.read_attachment(record.run_id, "diff.patch") if "diff.patch" in record.attachments else None
    lock = store.read_attachment(record.run_id, env.lock) if env.lock and env.lock in record.attachments else None
    return RunCard(
        run_id=record.run_id,
        experiment=record.experiment,
        entry_point=record.entry_point,
        parameters=replay_parameters(record),
        command=record.command,
        source=CardSource(kind=s.kind, location=_location(record), commit=s.commit, subdirectory=s.subdirectory,
                          version=s.version, diff=diff, diff_hash=s.diff_hash, archive_sha256=s.archive_sha256),
        environment=CardEnvironment(kind=env.kind, key=env.key, lock_name=env.lock if lock else None, lock=lock,
                                    details=dict(env.details), options=env.options),
        proj_version=record.proj_version,
        secret_parameters={p.name: p.secret_from for p in record.parameters if p.secret_from and p.given is not None},
        backend=CardBackend(record.backend, record.backend_config),
        outcome={"status": record.status.value, "exit_code": record.exit_code, "host": record.host,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.start_time)),
                 "duration_seconds": record.duration, "metrics": record.metrics},
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


def _location(record: RunRecord) -> str:
    s = record.source
    if s.kind in ("git", "archive"):
        base, _ = split_subdirectory(s.uri)
        return base.replace("***@", "")  # masked credentials: git's own helpers must supply them
    if s.commit and s.subdirectory and s.path.endswith("/" + s.subdirectory):
        return s.path[: -len(s.subdirectory) - 1]  # the repository root
    return s.path


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
                   **({"archive_sha256": s.archive_sha256} if s.archive_sha256 else {})},
        "entry_point": card.entry_point,
        "parameters": dict(card.parameters),
        **({"secret_parameters": dict(card.secret_parameters)} if card.secret_parameters else {}),
        "command": card.command,
        "environment": {"kind": env.kind, "key": env.key, "lock_file": env.lock_name, **_blob("lock", env.lock),
                        "details": env.details, "options": env.options},
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
                          archive_sha256=s.get("archive_sha256")),
        environment=CardEnvironment(kind=env["kind"], key=env.get("key"), lock_name=env.get("lock_file"),
                                    lock=_unblob(env, "lock"), details=env.get("details") or {},
                                    options=env.get("options")),
        proj_version=data["proj_version"], outcome=data.get("outcome") or {},
        secret_parameters={str(k): str(v) for k, v in (data.get("secret_parameters") or {}).items()},
        backend=_backend(data.get("backend")),
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
