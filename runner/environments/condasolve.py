"""Solving and installing conda packages with py-rattler, and turning its errors into ours.

Only the build path imports this module (rattler costs ~50 ms to import). Each call makes its
own `Gateway`: a Gateway keeps repodata in memory for its lifetime and would answer a later solve
with a channel's old contents.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, TypeVar
from urllib.parse import unquote, urlparse

from runner.environments.condalock import LockedPackage
from runner.environments.condaspec import CondaSpec
from runner.errors import EnvironmentSetupError, UsageError

if TYPE_CHECKING:  # rattler itself is imported by the functions that use it
    from rattler import MatchSpec, RepoDataRecord

T = TypeVar("T")

ALIAS_HINT = ("channel names are looked up under the channel alias; for a mirror or an offline "
              "folder set PROJ_CONDA_CHANNEL_ALIAS (or --conda-channel-alias)")


def solve(spec: CondaSpec, repodata_dir: Path) -> list[RepoDataRecord]:
    """The records (rattler RepoDataRecords) that satisfy the spec on this platform."""
    import rattler
    from rattler.exceptions import GatewayError, SolverError

    specs = match_specs(spec.specs, spec.file)
    gateway = rattler.Gateway(cache_dir=repodata_dir)
    try:
        return _run(rattler.solve(
            list(spec.channels), specs, gateway=gateway, platforms=[rattler.Platform(spec.platform), "noarch"],
            # real packages depend on __glibc, __unix, ...; rattler assumes none unless told
            virtual_packages=rattler.VirtualPackage.detect()))
    except SolverError as err:
        reason = str(err).removeprefix("Cannot solve the request because of: ")
        raise EnvironmentSetupError(
            f"The conda environment in {spec.file} cannot be solved:\n{reason.rstrip()}",
            hint="change or relax the versions named above; channels searched: "
                 + ", ".join(spec.channels)) from err
    except GatewayError as err:
        raise channel_error(str(err), spec) from err


def match_specs(specs: Iterable[str], file: Path) -> list[MatchSpec]:
    """rattler MatchSpecs, parsed leniently as conda does (`greet-tool 1.0` means ==1.0)."""
    import rattler
    from rattler.exceptions import InvalidMatchSpecError

    parsed = []
    for text in specs:
        try:
            parsed.append(rattler.MatchSpec(text))
        except InvalidMatchSpecError as err:
            raise UsageError(f"{file}: {text!r} is not a valid conda match spec: {err}",
                             hint="write specs like `numpy>=1.26`, `python=3.11` or "
                                  "`greet-tool==1.0`") from err
    return parsed


def channel_error(message: str, spec: CondaSpec) -> EnvironmentSetupError:
    """A channel that does not exist, or cannot be reached, named with what to do about it."""
    found = re.search(r"in channel '([^']+)'", message) or re.search(r"for url \(([^)]+)\)", message)
    channel = next((c for c in spec.channels if found and found.group(1).startswith(c)),
                   found.group(1) if found else ", ".join(spec.channels))
    cause = message.strip().splitlines()[-1].removeprefix("Caused by: ")
    if "could not find subdir" in message:
        return EnvironmentSetupError(
            f"Unknown conda channel {channel} (from {spec.file}): it has no repodata ({cause})",
            hint=ALIAS_HINT + f"; the alias in force is {spec.alias}")
    return EnvironmentSetupError(
        f"Cannot reach conda channel {channel} (from {spec.file}): {cause}",
        hint="check the network and proxy settings; " + ALIAS_HINT, output=message)


class InstallTimes:
    """rattler's install callbacks (its InstallerReporter protocol), kept as two time spans:
    filling the package cache (download and extract) and linking into the prefix. rattler
    overlaps them, package by package, so the spans may overlap too."""

    def __init__(self) -> None:
        self.downloads = 0
        self.fetching: list[float] = []  # first start, last end
        self.linking: list[float] = []

    @staticmethod
    def _mark(span: list[float]) -> int:
        now = time.monotonic()
        span[:] = [span[0] if span else now, now]
        return 0

    def fetch_seconds(self) -> float:
        return self.fetching[1] - self.fetching[0] if self.fetching else 0.0

    def link_seconds(self) -> float:
        return self.linking[1] - self.linking[0] if self.linking else 0.0

    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        return self._mark(self.fetching)

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        self._mark(self.fetching)

    def on_download_start(self, cache_entry: int) -> int:
        self.downloads += 1
        return 0

    def on_link_start(self, operation: int, package_name: str) -> int:
        return self._mark(self.linking)

    def on_link_complete(self, index: int) -> None:
        self._mark(self.linking)

    # The rest of the protocol: nothing to keep.
    def on_transaction_start(self, total_operations: int) -> None: ...
    def on_transaction_operation_start(self, operation: int) -> None: ...
    def on_validate_start(self, cache_entry: int) -> int: return 0  # noqa: E704
    def on_validate_complete(self, validate_idx: int) -> None: ...
    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None: ...
    def on_download_completed(self, download_idx: int) -> None: ...
    def on_unlink_start(self, operation: int, package_name: str) -> int: return 0  # noqa: E704
    def on_unlink_complete(self, index: int) -> None: ...
    def on_transaction_operation_complete(self, operation: int) -> None: ...
    def on_transaction_complete(self) -> None: ...
    def on_post_link_start(self, package_name: str, script_path: str) -> int: return 0  # noqa: E704
    def on_post_link_complete(self, index: int, success: bool) -> None: ...
    def on_pre_unlink_start(self, package_name: str, script_path: str) -> int: return 0  # noqa: E704
    def on_pre_unlink_complete(self, index: int, success: bool) -> None: ...


def install(records: list[RepoDataRecord], staging: Path, final: Path, pkgs_dir: Path) -> InstallTimes:
    """Install exactly `records` into `staging`, with `final` written into the files."""
    import rattler

    times = InstallTimes()
    try:
        _run(rattler.install(records, str(staging), cache_dir=pkgs_dir, reporter=times,
                             show_progress=False, alternative_target_prefix=str(final)))
    except _rattler_errors() as err:
        text = str(err)
        if "hash mismatch" in text:
            raise EnvironmentSetupError(
                f"Hash mismatch while installing conda packages: {_last_cause(text)}",
                hint="the channel serves a file that differs from the lock; re-lock with "
                     "`proj env lock` only if you trust the change", output=text) from err
        raise EnvironmentSetupError(f"Installing the conda packages failed: {_last_cause(text)}",
                                    output=text) from err
    return times


def locked_from_records(records: list[RepoDataRecord]) -> list[LockedPackage]:
    """Solved records as lock entries (URL, hashes, dependencies as conda-lock writes them)."""
    return [_locked_from_record(r) for r in sorted(records, key=lambda r: r.name.normalized)]


def records_from_lock(packages: Iterable[LockedPackage], lock_path: Path) -> list[RepoDataRecord]:
    """rattler records for lock entries, so that they install without any solve."""
    from rattler import BuildString, PackageRecord, RepoDataRecord

    records = []
    for p in packages:
        channel, subdir, file_name = _split_package_url(p, lock_path)
        try:
            record = PackageRecord(
                p.name, p.version, BuildString(p.build or "0"), 0, subdir,
                depends=[f"{name} {version}".strip() for name, version in p.dependencies],
                sha256=bytes.fromhex(p.sha256) if p.sha256 else None,
                md5=bytes.fromhex(p.md5) if p.md5 else None)
        except (_rattler_errors() + (ValueError, TypeError)) as err:
            raise UsageError(f"{lock_path}: invalid entry for {p.name} {p.version}: {err}") from err
        records.append(RepoDataRecord(record, file_name, p.url, channel + "/"))
    return records


def check_local_archives(packages: Iterable[LockedPackage], lock_path: Path) -> None:
    """Check the hash of every file:// archive a lock names (rattler checks only downloads)."""
    for p in packages:
        if not p.url.startswith("file:"):
            continue
        path = Path(unquote(urlparse(p.url).path))
        if not path.is_file():
            raise EnvironmentSetupError(f"{p.name} {p.version}, locked in {lock_path}, is missing: "
                                        f"no file {path}")
        algorithm, expected = ("sha256", p.sha256) if p.sha256 else ("md5", p.md5)
        if not expected:
            raise UsageError(f"{lock_path}: {p.name} {p.version} has no sha256 or md5 hash")
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise EnvironmentSetupError(
                f"Hash mismatch for {p.name} {p.version} ({p.url}): {lock_path.name} says "
                f"{algorithm} {expected}, the file has {actual}",
                hint="the channel's file changed after the lock was written; re-lock with "
                     "`proj env lock` only if you trust the change")


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locked_from_record(record: RepoDataRecord) -> LockedPackage:
    md5 = record.md5.hex() if record.md5 else None
    if md5 is None and record.url.startswith("file:"):  # conda-lock requires an md5
        md5 = file_digest(Path(unquote(urlparse(record.url).path)), "md5")
    if md5 is None:
        raise EnvironmentSetupError(f"Cannot lock {record.url}: its channel lists no md5 for it")
    return LockedPackage(
        manager="conda", name=record.name.normalized, version=str(record.version),
        build=str(record.build), url=record.url, md5=md5,
        sha256=record.sha256.hex() if record.sha256 else None,
        dependencies=tuple(sorted(_dependency(d) for d in record.depends)))


def _dependency(text: str) -> tuple[str, str]:
    """`libgreet >=1.0` → ("libgreet", ">=1.0"): conda-lock keeps the version part only."""
    from rattler import MatchSpec

    try:
        spec = MatchSpec(text)
        return spec.name.normalized, str(spec.version) if spec.version else ""
    except _rattler_errors():  # an odd spec in someone's repodata must not stop the lock
        name, _, rest = text.partition(" ")
        return name, rest.strip()


def _split_package_url(p: LockedPackage, lock_path: Path) -> tuple[str, str, str]:
    parts = p.url.rstrip("/").rsplit("/", 2)
    if len(parts) != 3 or not parts[2].endswith((".conda", ".tar.bz2")):
        raise UsageError(f"{lock_path}: {p.name} has no conda package URL ({p.url!r})")
    return parts[0], parts[1], parts[2]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one rattler coroutine; after a failure, let rattler's threads finish with Python.

    Workaround: pyo3-async-runtimes hands the result over from a tokio thread that goes on
    dropping Python objects after the coroutine is done. If the interpreter finalizes meanwhile
    (proj exits at once after a failed solve), that thread is killed mid-drop and the process
    dies with SIGSEGV (about one quick exit in ten here). Sleeping releases the GIL to it. After
    a success proj goes on running Python for far longer than the thread needs.
    """
    try:
        return asyncio.run(coroutine)
    except BaseException:
        time.sleep(0.05)
        raise


def _rattler_errors() -> tuple[type[BaseException], ...]:
    """rattler's own exception classes (all plain Exceptions defined in rattler.exceptions)."""
    import rattler.exceptions as errors

    return tuple(value for value in vars(errors).values()
                 if isinstance(value, type) and issubclass(value, Exception)
                 and not issubclass(value, Warning))


def _last_cause(text: str) -> str:
    return text.strip().splitlines()[-1].removeprefix("Caused by: ")
