"""`proj rerun`: run a recorded run again — same code, parameters and locked environment.

The source is the recorded commit in a checkout of its own, with the recorded uncommitted
changes applied; parameters are the values given then; the environment is the same kind, built
with the same settings (installer, image build, docker args, ...) and installed from the
recorded lock, never re-solved; the backend is the same, with the same settings. Whatever cannot
be reproduced exactly is an error, unless drift is allowed: then the run goes ahead without it.
Either way the new run's record says what drifted, including what the original never recorded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Callable

from runner.api import Reporter, RunOutcome, RunRequest, run_project
from runner.backends import get_backend
from runner.cardsource import Clone
from runner.environments import registry
from runner.environments.kind import EnvironmentKind, EnvironmentSettings
from runner.errors import (
    ArchiveChangedError,
    EnvironmentSetupError,
    PatchError,
    ProjError,
    ReproductionError,
    UnknownVersionError,
    UsageError,
)
from runner.runcard import RunCard
from runner.secrets import REDACTED
from runner.tracking.base import Reproduction, RunRecord, TrackingStore


@dataclass(frozen=True)
class RerunOptions:
    overrides: dict[str, str] = field(default_factory=dict)  # -P: deliberate differences
    version: str | None = None  # --version: a deliberate difference
    allow_drift: bool = False
    experiment: str | None = None
    run_name: str | None = None
    tracking_uri: str | None = None
    # This machine's own settings (--conda-channel-alias, --pull, --verbose); the recorded ones
    # and the lock are added.
    environment: EnvironmentSettings = field(default_factory=EnvironmentSettings)
    # A clone of the project around the current folder (runner.cardsource): its working tree runs
    # when `run_checkout` (a card re-run inside a clone); else it supplies the recorded commit.
    clone: Clone | None = None
    run_checkout: bool = False


def rerun(card: RunCard, options: RerunOptions, reporter: Reporter, *, terminal: BinaryIO,
          on_started: Callable[[RunRecord, TrackingStore], None] = lambda record, store: None) -> RunOutcome:
    with tempfile.TemporaryDirectory(prefix="proj-rerun-") as scratch:
        request = _request(card, options, Path(scratch), reporter)
        while True:  # each kind of drift is given up at most once, so this ends
            try:
                return run_project(request, reporter, terminal=terminal, on_started=on_started)
            except (UnknownVersionError, PatchError, ArchiveChangedError, EnvironmentSetupError) as err:
                request = _drifted(request, err, card, options, reporter)


def _request(card: RunCard, options: RerunOptions, scratch: Path, reporter: Reporter) -> RunRequest:
    source = card.source
    if source.diff is not None and source.diff_hash != hashlib.sha256(source.diff).hexdigest():
        raise UsageError(f"The recorded changes of run {card.run_id} do not match their SHA-256 "
                         f"({source.diff_hash}): the card was edited or damaged")
    uri, version, apply_diff = _code(card, options)
    deliberate = [f"parameter {name}={value} (was {card.parameters.get(name, 'its default')})"
                  for name, value in options.overrides.items()
                  if card.parameters.get(name) != value and REDACTED not in card.parameters.get(name, "")]
    if options.version:
        deliberate.append(f"version {options.version} (the original ran commit {source.commit})")
    if options.run_checkout and options.clone is not None and not options.version:
        deliberate.append(f"the checkout {options.clone.describe(source.commit or '')} instead of commit "
                          f"{source.commit}")
    parameters = {**card.parameters, **_secret_parameters(card, options.overrides), **options.overrides}
    drift: list[str] = []
    kind, environment = _environment(card, options, scratch, drift)
    backend, backend_config = _backend(card, options, drift)
    for note in drift:
        reporter.warning(f"drift: {note}")
    return RunRequest(
        uri=uri,
        entry_point=card.entry_point,
        version=version,
        parameters=parameters,
        experiment=options.experiment or card.experiment,
        run_name=options.run_name,
        env_manager=kind.name if kind is not None else None,
        tracking_uri=options.tracking_uri,
        backend=backend,
        backend_config=backend_config,
        environment=environment,
        apply_diff=apply_diff,
        archive_sha256=source.archive_sha256,
        reproduction=Reproduction(of=card.run_id, deliberate=deliberate, drift=drift),
    )


def _code(card: RunCard, options: RerunOptions) -> tuple[str, str | None, bytes | None]:
    """The URI, version and changes to run: the clone's working tree as it is (a card re-run in a
    clone), the recorded commit from the clone (nothing fetched), or from the recorded location."""
    source, clone = card.source, options.clone
    subdirectory = f"#{source.subdirectory}" if source.subdirectory else ""
    if clone is not None and options.run_checkout and not options.version:
        return str(clone.top) + subdirectory, None, None
    location = str(clone.top) if clone is not None and clone.holds_commit else source.location
    if options.version:
        return location + subdirectory, options.version, None
    return location + subdirectory, source.commit, source.diff


def _environment(card: RunCard, options: RerunOptions, scratch: Path,
                 drift: list[str]) -> tuple[EnvironmentKind | None, EnvironmentSettings]:
    """The recorded kind, its recorded settings and the recorded lock (installed frozen)."""
    lock_file = None
    if card.environment.lock is not None and card.environment.lock_name:
        lock_file = scratch / card.environment.lock_name
        lock_file.write_bytes(card.environment.lock)
    settings = options.environment._replace(lock_file=lock_file, frozen=lock_file is not None)
    kind = _kind(card, options, drift)
    if kind is None:
        return None, settings
    recorded = card.environment.options
    if recorded is None:
        if any(o.reproduced for o in kind.options):
            drift.append(f"the original run's {kind.name} settings were not recorded (proj {card.proj_version}); "
                         "this run used the defaults")
        return kind, settings
    known = {o.setting for o in kind.options}
    drift += [f"the setting {name}={value!r} of the original run is unknown to the installed {kind.name} kind"
              for name, value in recorded.items() if name not in known]
    drift += kind.replay_notes(recorded)
    return kind, settings._replace(config={k: v for k, v in recorded.items() if k in known})


def _kind(card: RunCard, options: RerunOptions, drift: list[str]) -> EnvironmentKind | None:
    """The recorded environment kind; None (the project's own choice) when it is not installed here."""
    kind = registry.find_kind(card.environment.kind)
    if kind is not None:
        return kind
    problem = f"the environment kind {card.environment.kind!r} is not installed here"
    if not options.allow_drift:
        raise ReproductionError(f"Cannot reproduce run {card.run_id} exactly: {problem}",
                                hint="install the plugin that provides it, or --allow-drift runs it anyway")
    drift.append(f"{problem}; the project's own environment was used")
    return None


def _backend(card: RunCard, options: RerunOptions, drift: list[str]) -> tuple[str, dict[str, Any] | None]:
    """The recorded backend and settings, checked here; on local (with --allow-drift) if they cannot be used."""
    backend = card.backend
    if backend.name is None:
        drift.append("the original run's backend was not recorded (an older run card); this run ran on local")
        return "local", {}
    if backend.config is None and backend.name != "local":
        drift.append(f"the original run's {backend.name} settings were not recorded; this run used the defaults")
    try:
        get_backend(backend.name, backend.config)
    except ProjError as err:
        if not options.allow_drift:
            raise ReproductionError(f"Cannot reproduce run {card.run_id} exactly: its backend {backend.name!r} "
                                    f"cannot be used here ({err.message})",
                                    hint="--allow-drift runs it on this machine (-b local) instead") from err
        drift.append(f"the backend {backend.name!r} cannot be used here ({err.message}); this run ran on local")
        return "local", {}
    return backend.name, backend.config


def _secret_parameters(card: RunCard, overrides: dict[str, str]) -> dict[str, str]:
    """Values for the parameters recorded as *** (they held a secret): from the environment
    variable that held them then. Passing the literal *** instead would run something else."""
    values = {}
    for name, value in card.parameters.items():
        if REDACTED not in value or name in overrides:
            continue
        variable = card.secret_parameters.get(name)
        if variable and os.environ.get(variable):
            values[name] = os.environ[variable]
            continue
        hint = (f"set {variable} to the value it had (proj takes it from there), or give -P {name}=VALUE"
                if variable else f"give the value again with -P {name}=VALUE")
        raise UsageError(f"Run {card.run_id} recorded parameter {name!r} as {value!r}: it held a secret, which "
                         "proj does not keep, so it cannot be re-run as it was", hint=hint)
    return values


def _drifted(request: RunRequest, err: Exception, card: RunCard, options: RerunOptions,
             reporter: Reporter) -> RunRequest:
    """The request without what failed, when drift is allowed; otherwise the reason it can't run."""
    if not options.allow_drift:
        raise ReproductionError(f"Cannot reproduce run {card.run_id} exactly: {err}",
                                hint="--allow-drift runs it anyway and records what differs") from err
    reproduction = request.reproduction or Reproduction(of=card.run_id)
    if isinstance(err, UnknownVersionError) and request.version:
        note = f"commit {request.version} is gone; ran the default branch instead"
        changed = request._replace(version=None, apply_diff=None)
        if card.source.kind == "local" and card.source.diff:
            note += " without the recorded uncommitted changes"
    elif isinstance(err, ArchiveChangedError) and request.archive_sha256:
        note = f"the archive changed since the run ({err.message}); ran it as it is now"
        changed = request._replace(archive_sha256=None)
    elif isinstance(err, PatchError) and request.apply_diff:
        note = f"the recorded uncommitted changes do not apply ({err.message}); ran the commit without them"
        changed = request._replace(apply_diff=None)
    elif isinstance(err, EnvironmentSetupError) and request.environment.lock_file is not None:
        note = (f"the recorded environment lock could not be installed ({err.message}); "
                "the environment was resolved again")
        changed = request._replace(environment=request.environment._replace(lock_file=None, frozen=False))
    else:
        raise err
    reporter.warning(f"drift: {note}")
    return changed._replace(reproduction=replace(reproduction, drift=[*reproduction.drift, note]))
