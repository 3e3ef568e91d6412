"""Cached bare mirrors of git repositories, and a worktree of one commit for each run.

    $PROJ_HOME/git/<name>-<hash>/         a bare mirror per repository (URL without credentials)
    $PROJ_HOME/git/<name>-<hash>.lock     held while the mirror is fetched or its worktrees change
    $PROJ_HOME/checkouts/<mirror>-<commit>-<host>-<pid>-<random>/   one run's worktree
    $PROJ_HOME/checkouts/.holders/<checkout>/<run id>   runs a scheduler still has to start

A second run of a repository fetches only what changed. Worktrees left by a proj that died are
removed by the next fetch of their repository, unless a scheduled job still holds them.

git is driven through its command line (runner.process) rather than GitPython: every operation
here is one git command, and GitPython's import alone (~65 ms plus a `git version` call) would
take half of proj's start-up budget on every local run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from runner.errors import SourceError, UnknownVersionError
from runner.host import hostname
from runner.locations import cache_dir
from runner.locking import file_lock
from runner.process import ToolError, ToolResult, run_tool
from runner.procfs import process_alive
from runner.secrets import query_secrets

_HEX = re.compile(r"^[0-9a-f]{4,40}$")


@dataclass(frozen=True)
class Checkout:
    """A run's own worktree of one commit of a mirrored repository."""

    mirror: Path
    commit: str
    path: Path


def check_out(url: str, version: str | None, *, uri: str, progress: Callable[[str], None]) -> Checkout:
    """Fetch `url` into its mirror as needed and add a worktree of `version` (default: HEAD).

    `uri` is how messages name the repository (credentials masked).
    """
    mirror = mirror_path(url)
    secrets = secrets_in(url)
    with file_lock(mirror_lock(mirror), on_wait=lambda: progress(f"waiting for another proj fetching {uri}")):
        _ensure_mirror(mirror)
        progress(f"fetching {uri}" + (f" at {version}" if version else ""))
        commit = _resolve_commit(mirror, url, version, uri, secrets)
        run_git(["update-ref", f"refs/proj/commits/{commit}", commit], cwd=mirror)
        _reap_stale_checkouts(mirror)
        path = _add_worktree(mirror, commit)
    checkout = Checkout(mirror, commit, path)
    try:
        if (path / ".gitmodules").is_file():
            progress("initialising submodules")
            _init_submodules(path, url, uri, secrets)
    except BaseException:
        remove_checkout(mirror, path)
        raise
    return checkout


def remove_checkout(mirror: Path, path: Path) -> None:
    with file_lock(mirror_lock(mirror)):
        remove_worktree(mirror, path)


def keep_checkout(path: Path, holders: Iterable[str]) -> None:
    """Let a worktree outlive this process for jobs a scheduler starts later; each holder (a run
    id) gives it back with `release_kept_checkout`, and the last one removes it (until then no
    other proj reaps it)."""
    folder = _holders_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    for holder in holders:
        (folder / _safe_holder(holder)).touch()


def apply_patch(path: Path, diff: bytes) -> None:
    """Apply a `git diff --binary` to a worktree; GitFailure if it does not apply."""
    run_git(["apply", "--binary", "--whitespace=nowarn", "-"], cwd=path, input=diff)


def release_kept_checkout(checkout: Path, holder: str) -> None:
    """`holder` no longer needs a checkout kept with `keep_checkout`; the last one removes it."""
    folder = _holders_dir(checkout)
    mirror = mirror_of(checkout)
    if mirror is None:  # the checkout is gone already
        shutil.rmtree(folder, ignore_errors=True)
        return
    with file_lock(mirror_lock(mirror)):
        (folder / _safe_holder(holder)).unlink(missing_ok=True)
        if folder.is_dir() and any(folder.iterdir()):
            return
        shutil.rmtree(folder, ignore_errors=True)
        remove_worktree(mirror, checkout)


def list_checkouts() -> list[tuple[Path, list[str], bool]]:
    """Every run's worktree: the runs holding it (`keep_checkout`), and whether a proj on this
    host that has died made it (nothing will remove it but the next fetch of its repository)."""
    host, found = hostname(), []
    for checkout in sorted(cache_dir("checkouts").iterdir()):
        mirror = mirror_of(checkout) if checkout.is_dir() and not checkout.name.startswith(".") else None
        if mirror is None:
            continue
        holders = sorted(p.name for p in _holders_dir(checkout).glob("*"))
        match = re.match(rf"{re.escape(mirror.name)}-[0-9a-f]{{12}}-(?P<host>.+)-(?P<pid>\d+)-", checkout.name)
        abandoned = match is not None and match.group("host") == host and not process_alive(int(match.group("pid")))
        found.append((checkout, holders, abandoned))
    return found


def discard_checkout(checkout: Path) -> None:
    """Remove a worktree whatever holds it (`proj gc`, once its holders have ended)."""
    mirror = mirror_of(checkout)
    if mirror is None:
        shutil.rmtree(checkout, ignore_errors=True)
    else:
        with file_lock(mirror_lock(mirror)):
            remove_worktree(mirror, checkout)
    shutil.rmtree(_holders_dir(checkout), ignore_errors=True)


def _holders_dir(checkout: Path) -> Path:
    return checkout.parent / ".holders" / checkout.name


def _safe_holder(holder: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", holder):
        raise ValueError(f"invalid checkout holder {holder!r}")
    return holder


def mirror_of(checkout: Path) -> Path | None:
    """The bare mirror a worktree belongs to, from its `.git` file (`gitdir: MIRROR/worktrees/NAME`)."""
    try:
        text = (checkout / ".git").read_text()
    except OSError:
        return None
    gitdir = text.partition("gitdir:")[2].strip()
    return Path(gitdir).parent.parent if gitdir else None


def mirror_path(url: str) -> Path:
    """One bare mirror per repository, whatever credentials the URL carries."""
    parts = urlsplit(url)
    anonymous = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])) if "://" in url else url
    digest = hashlib.sha256(anonymous.rstrip("/").encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", anonymous.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])[:40]
    return cache_dir("git") / f"{name}-{digest}"


def mirror_lock(mirror: Path) -> Path:
    return mirror.with_name(mirror.name + ".lock")


def _ensure_mirror(mirror: Path) -> None:
    """A usable bare mirror; called with the mirror's lock held.

    A proj killed in the middle of `git init` leaves a mirror without HEAD, and one killed in the
    middle of a fetch leaves git's own `*.lock` files, which would make every later fetch fail
    with "File exists". Holding our lock, we know no git process owns them.
    """
    if not (mirror / "HEAD").is_file():
        shutil.rmtree(mirror, ignore_errors=True)
        run_git(["init", "--quiet", "--bare", str(mirror)])
        return
    for stale in [*mirror.glob("*.lock"), *mirror.glob("refs/**/*.lock")]:
        stale.unlink(missing_ok=True)


def _resolve_commit(mirror: Path, url: str, version: str | None, uri: str, secrets: list[str]) -> str:
    """The full commit for `version`, fetching as little as possible.

    A commit id already in the mirror needs no network. Otherwise a shallow fetch of exactly
    the version (branch, tag or full id) is tried first; short ids and commits the server will
    not serve directly need the whole history, fetched once and kept in the mirror.
    """
    if version and _HEX.match(version):
        known = _known_commit(mirror, version)
        if known:
            return known
    try:
        _fetch(mirror, url, ["--depth", "1", "--", url, version or "HEAD"], secrets)
        return run_git(["rev-parse", "--verify", "FETCH_HEAD^{commit}"], cwd=mirror).strip()
    except GitFailure as shallow_error:
        if version is None:
            raise SourceError(f"Cannot fetch {uri}: {shallow_error.reason}") from None
    deepen = ["--unshallow"] if (mirror / "shallow").exists() else []
    try:
        _fetch(mirror, url, [*deepen, "--tags", "--", url, "+refs/heads/*:refs/remotes/origin/*"], secrets)
    except GitFailure as err:
        raise SourceError(f"Cannot fetch {uri}: {err.reason}") from None
    for candidate in (version, f"refs/remotes/origin/{version}", f"refs/tags/{version}"):
        known = _known_commit(mirror, candidate)
        if known:
            return known
    raise UnknownVersionError(f"Unknown version {version!r} in {uri}: no such branch, tag or commit",
                              version=version)


def _known_commit(mirror: Path, name: str) -> str | None:
    try:
        return run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"],
                    cwd=mirror).strip() or None
    except GitFailure:
        return None


def _fetch(mirror: Path, url: str, args: list[str], secrets: list[str]) -> None:
    run_git(["-c", "protocol.ext.allow=never", "fetch", "--quiet", *args], cwd=mirror, secrets=secrets)


def _add_worktree(mirror: Path, commit: str) -> Path:
    owner = f"{hostname()}-{os.getpid()}"
    checkout = Path(tempfile.mkdtemp(prefix=f"{mirror.name}-{commit[:12]}-{owner}-", dir=cache_dir("checkouts")))
    checkout.rmdir()  # git creates it
    run_git(["worktree", "add", "--detach", "--force", str(checkout), commit], cwd=mirror)
    return checkout


def remove_worktree(mirror: Path, checkout: Path) -> None:
    try:
        run_git(["worktree", "remove", "--force", "--force", str(checkout)], cwd=mirror)
    except GitFailure:
        shutil.rmtree(checkout, ignore_errors=True)
        run_git(["worktree", "prune"], cwd=mirror)


def _reap_stale_checkouts(mirror: Path) -> None:
    """Remove checkouts left by a proj on this host that died before cleaning up."""
    host = hostname()
    for checkout in cache_dir("checkouts").glob(f"{mirror.name}-*"):
        match = re.match(rf"{re.escape(mirror.name)}-[0-9a-f]{{12}}-(?P<host>.+)-(?P<pid>\d+)-", checkout.name)
        kept = any(_holders_dir(checkout).glob("*"))  # a scheduled job still needs it
        if match and match.group("host") == host and not process_alive(int(match.group("pid"))) and not kept:
            remove_worktree(mirror, checkout)
    run_git(["worktree", "prune"], cwd=mirror)


def _init_submodules(checkout: Path, url: str, uri: str, secrets: list[str]) -> None:
    # Since git 2.38.1 submodules may not use file:// (CVE-2022-39253); allow it only when the
    # project itself is local, so a remote repository cannot make proj read local files.
    local = url.startswith("file://") or Path(url).exists()
    allow_file = ["-c", "protocol.file.allow=always"] if local else []
    try:
        run_git([*allow_file, "-c", "protocol.ext.allow=never", "submodule", "--quiet", "update", "--init",
              "--recursive"], cwd=checkout, secrets=secrets)
    except GitFailure as err:
        raise SourceError(f"Cannot initialise the submodules of {uri}: {err.reason}") from None


# --- running git ---------------------------------------------------------------------------


class GitFailure(Exception):
    """git failed; `reason` is its own last line of explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "LC_ALL": "C", **(extra or {})}
    if not sys.stdin.isatty():
        env["GIT_TERMINAL_PROMPT"] = "0"  # never hang waiting for a password nobody can type
    return env


def run_git(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            secrets: Sequence[str] = (), input: bytes | None = None) -> str:
    """Run git with an argument list; GitFailure carries its last line of output, credentials scrubbed."""
    return _git(args, cwd=cwd, env=env, secrets=secrets, binary=False, input=input).text


def run_git_binary(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> bytes:
    """`run_git` for output that must stay bytes (diffs of binary files)."""
    output = _git(args, cwd=cwd, env=env, secrets=(), binary=True, input=None).output
    assert isinstance(output, bytes)  # as run_tool captures with binary=True
    return output


def _git(args: list[str], *, cwd: Path | None, env: dict[str, str] | None, secrets: Sequence[str], binary: bool,
         input: bytes | None) -> ToolResult:
    try:
        result = run_tool(["git", *args], cwd=cwd, env=git_env(env), binary=binary, input=input)
    except ToolError as err:
        output = str(err.output)
        for secret in secrets:
            output = output.replace(secret, "***")
        lines = [line for line in output.strip().splitlines() if line.strip()]
        raise GitFailure(lines[-1] if lines else str(err)) from None
    return result


def secrets_in(url: str) -> list[str]:
    """The credentials a URL carries, to scrub from git's messages: its userinfo, and the values
    of query parameters that sources.mask_credentials masks."""
    try:
        parts = urlsplit(url) if "://" in url else None
    except ValueError:
        return []
    if parts is None:
        return []
    found = query_secrets(parts.query)
    if "@" not in parts.netloc:
        return found
    userinfo = parts.netloc.rsplit("@", 1)[0]
    # Over http(s) any user name may be a token; elsewhere (ssh) only a password is secret.
    if parts.scheme in ("http", "https") or ":" in userinfo:
        found += [piece for piece in userinfo.split(":") if piece]
    return found
