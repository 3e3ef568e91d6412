"""`proj rerun`: run a recorded run again — same code, parameters and locked environment.

The source is the recorded commit in a checkout of its own, with the recorded uncommitted
changes applied; parameters are the values given then; the environment is installed from the
recorded lock and never re-solved. Whatever cannot be reproduced exactly is an error, unless
drift is allowed: then the run goes ahead without it and the record says what drifted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Callable

from runner.api import Reporter, RunOutcome, RunRequest, run_project
from runner.environments import MANAGERS, EnvironmentOptions
from runner.errors import (
    ArchiveChangedError,
    EnvironmentSetupError,
    PatchError,
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
    environment: EnvironmentOptions = field(default_factory=EnvironmentOptions)  # the lock is added


def rerun(card: RunCard, options: RerunOptions, reporter: Reporter, *, terminal: BinaryIO,
          on_started: Callable[[RunRecord, TrackingStore], None] = lambda record, store: None) -> RunOutcome:
    with tempfile.TemporaryDirectory(prefix="proj-rerun-") as scratch:
        request = _request(card, options, Path(scratch))
        while True:  # each kind of drift is given up at most once, so this ends
            try:
                return run_project(request, reporter, terminal=terminal, on_started=on_started)
            except (UnknownVersionError, PatchError, ArchiveChangedError, EnvironmentSetupError) as err:
                request = _drifted(request, err, card, options, reporter)


def _request(card: RunCard, options: RerunOptions, scratch: Path) -> RunRequest:
    source = card.source
    if source.diff is not None and source.diff_hash != hashlib.sha256(source.diff).hexdigest():
        raise UsageError(f"The recorded changes of run {card.run_id} do not match their SHA-256 "
                         f"({source.diff_hash}): the card was edited or damaged")
    uri = source.location + (f"#{source.subdirectory}" if source.subdirectory else "")
    deliberate = [f"parameter {name}={value} (was {card.parameters.get(name, 'its default')})"
                  for name, value in options.overrides.items()
                  if card.parameters.get(name) != value and REDACTED not in card.parameters.get(name, "")]
    if options.version:
        deliberate.append(f"version {options.version} (the original ran commit {source.commit})")
    parameters = {**card.parameters, **_secret_parameters(card, options.overrides), **options.overrides}
    lock_file = None
    if card.environment.lock is not None and card.environment.lock_name:
        lock_file = scratch / card.environment.lock_name
        lock_file.write_bytes(card.environment.lock)
    manager = card.environment.kind if card.environment.kind in MANAGERS else None
    return RunRequest(
        uri=uri,
        entry_point=card.entry_point,
        version=options.version or source.commit,
        parameters=parameters,
        experiment=options.experiment or card.experiment,
        run_name=options.run_name,
        env_manager=manager,
        tracking_uri=options.tracking_uri,
        environment_options=replace(options.environment, lock_file=lock_file, frozen=lock_file is not None),
        apply_diff=None if options.version else source.diff,
        archive_sha256=source.archive_sha256,
        reproduction=Reproduction(of=card.run_id, deliberate=deliberate),
    )


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
        changed = replace(request, version=None, apply_diff=None)
        if card.source.kind == "local" and card.source.diff:
            note += " without the recorded uncommitted changes"
    elif isinstance(err, ArchiveChangedError) and request.archive_sha256:
        note = f"the archive changed since the run ({err.message}); ran it as it is now"
        changed = replace(request, archive_sha256=None)
    elif isinstance(err, PatchError) and request.apply_diff:
        note = f"the recorded uncommitted changes do not apply ({err.message}); ran the commit without them"
        changed = replace(request, apply_diff=None)
    elif isinstance(err, EnvironmentSetupError) and request.environment_options.lock_file is not None:
        note = f"the recorded environment lock could not be installed ({err.message}); the environment was resolved again"
        changed = replace(request, environment_options=replace(request.environment_options, lock_file=None,
                                                               frozen=False))
    else:
        raise err
    reporter.warning(f"drift: {note}")
    return replace(changed, reproduction=replace(reproduction, drift=[*reproduction.drift, note]))
