"""Where a project comes from: a local folder run in place, or a git repository.

A git repository is fetched into a bare mirror cached per URL under `$PROJ_HOME/git/` (so a
second run fetches only what changed) and every run gets its own detached worktree of the exact
commit. A local folder given with `--version` goes through the same path: the user's own
checkout, branches and remotes are never touched.

URIs, versions and subdirectories are checked before git sees them: no remote-helper
transports, nothing git could read as an option, no subdirectory outside the repository.
Credentials in URLs are masked in everything proj records or prints.

git is driven through its command line (runner.process) rather than GitPython: every operation
here is one git command, and GitPython's import alone (~65 ms plus a `git version` call) would
take half of proj's start-up budget on every local run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

from runner.errors import PatchError, SourceError, UnknownVersionError, UnsafeSourceError, UsageError
from runner.locations import cache_dir
from runner.locking import file_lock
from runner.process import ToolError, run_tool

GIT_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[^:].*)$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+@-]*$")
_HEX = re.compile(r"^[0-9a-f]{4,40}$")
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

Progress = Callable[[str], None]


@dataclass
class ProjectSource:
    """The folder a run executes in, and the provenance recorded with it."""

    uri: str  # as the user gave it, credentials masked
    kind: str  # "local" or "git"
    path: Path  # the project folder (checkout + subdirectory)
    subdirectory: str = ""
    version: str | None = None  # as requested with --version
    commit: str | None = None
    dirty: bool | None = None  # None when the folder is not in a git repository
    diff: bytes = b""  # uncommitted changes, untracked files included
    diff_hash: str | None = None
    repo_url: str | None = None  # masked
    checkout: Path | None = None  # a per-run worktree, removed by release()
    _mirror: Path | None = field(default=None, repr=False)

    def release(self) -> None:
        """Remove the per-run checkout (local folders are left alone)."""
        if self.checkout is None or self._mirror is None:
            return
        with file_lock(_lock_path(self._mirror)):
            _remove_worktree(self._mirror, self.checkout)
        self.checkout = None

    def keep_checkout(self, holders: Iterable[str]) -> Path | None:
        """Let the per-run checkout outlive this process, for jobs a scheduler starts later.

        Each holder (a run id) gives it back with `release_kept_checkout`, and the last one
        removes it; until then `release()` does nothing and no other proj reaps it. Returns the
        checkout, or None for a local folder (there is nothing to keep).
        """
        if self.checkout is None or self._mirror is None:
            return None
        folder = _holders_dir(self.checkout)
        folder.mkdir(parents=True, exist_ok=True)
        for holder in holders:
            (folder / _safe_holder(holder)).touch()
        kept, self.checkout = self.checkout, None
        return kept


def release_kept_checkout(checkout: Path, holder: str) -> None:
    """`holder` no longer needs a checkout kept with `keep_checkout`; the last one removes it."""
    folder = _holders_dir(checkout)
    mirror = _mirror_of(checkout)
    if mirror is None:  # the checkout is gone already
        shutil.rmtree(folder, ignore_errors=True)
        return
    with file_lock(_lock_path(mirror)):
        (folder / _safe_holder(holder)).unlink(missing_ok=True)
        if folder.is_dir() and any(folder.iterdir()):
            return
        shutil.rmtree(folder, ignore_errors=True)
        _remove_worktree(mirror, checkout)


def _holders_dir(checkout: Path) -> Path:
    return checkout.parent / ".holders" / checkout.name


def _safe_holder(holder: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", holder):
        raise ValueError(f"invalid checkout holder {holder!r}")
    return holder


def _mirror_of(checkout: Path) -> Path | None:
    """The bare mirror a worktree belongs to, from its `.git` file (`gitdir: MIRROR/worktrees/NAME`)."""
    try:
        text = (checkout / ".git").read_text()
    except OSError:
        return None
    gitdir = text.partition("gitdir:")[2].strip()
    return Path(gitdir).parent.parent if gitdir else None


def mask_credentials(uri: str) -> str:
    """`https://user:token@host/x` → `https://***@host/x`; ssh user names are kept."""
    parts = urlsplit(uri)
    if not parts.scheme or "@" not in parts.netloc:
        return uri
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme in ("http", "https") or ":" in userinfo:
        return urlunsplit(parts._replace(netloc=f"***@{host}"))
    return uri


def split_subdirectory(uri: str) -> tuple[str, str]:
    """`repo#sub/dir` → (`repo`, `sub/dir`)."""
    base, _, subdirectory = uri.partition("#")
    return base, subdirectory


def fetch_project(uri: str, version: str | None = None, *, progress: Progress | None = None,
                  apply_diff: bytes | None = None) -> ProjectSource:
    """Make the project at `uri` available on disk; the caller must `release()` the result.

    `apply_diff` (a recorded run's uncommitted changes) is applied to the run's own checkout of
    `version`, which re-creates that run's dirty working tree without touching any user folder.
    """
    progress = progress or (lambda _message: None)
    source = _fetch_source(uri, version, progress)
    if apply_diff:
        _apply_diff(source, apply_diff)
    return source


def _fetch_source(uri: str, version: str | None, progress: Progress) -> ProjectSource:
    _refuse_unsafe_text(uri, "project URI")
    base, subdirectory = split_subdirectory(uri)
    subdirectory = _safe_subdirectory(subdirectory, uri)
    if version is not None:
        _refuse_unsafe_text(version, "version")
        _check_version(version)
    if _REMOTE_HELPER.match(base):
        raise UnsafeSourceError(
            f"Refusing project URI {mask_credentials(base)!r}: remote-helper transports (such as ext::) "
            "can run commands",
            hint=f"use a plain git URL ({', '.join(GIT_SCHEMES)})",
        )
    local = Path(base).expanduser()
    if base and local.exists():
        return _from_local_folder(local, uri, subdirectory, version, progress)
    if is_git_url(base):
        _check_git_url(base)
        return _from_git(base, mask_credentials(uri), subdirectory, version, progress)
    if "://" in base:
        scheme = urlsplit(base).scheme
        raise UnsafeSourceError(f"Refusing project URI {mask_credentials(uri)!r}: unsupported scheme {scheme!r}",
                                hint=f"supported: {', '.join(GIT_SCHEMES)}, or a local folder")
    raise SourceError(f"Cannot fetch project {uri!r}: no such folder, and not a git URL",
                      hint="git URLs look like https://host/org/repo.git, file:///path/repo or git@host:org/repo.git")


def is_git_url(uri: str) -> bool:
    """A URL git can fetch: a known scheme, or git's scp-like `[user@]host:path` form."""
    if "://" in uri:
        return urlsplit(uri).scheme in GIT_SCHEMES
    return bool(_SCP_LIKE.match(uri))


# --- safety checks -------------------------------------------------------------------------


def _refuse_unsafe_text(text: str, what: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UnsafeSourceError(f"Refusing {what} with control characters: {text!r}")
    if text.startswith("-"):
        raise UnsafeSourceError(f"Refusing {what} {mask_credentials(text)!r}: git would read it as an option")


def _check_git_url(url: str) -> None:
    """Refuse host or user names that ssh would read as an option (`-oProxyCommand=...`)."""
    if "://" in url:
        parts = urlsplit(url)
        names = (parts.hostname or "", parts.username or "")
    else:
        match = _SCP_LIKE.match(url)
        names = (match.group("host"), match.group("user") or "") if match else ()
    if any(name.startswith("-") for name in names):
        raise UnsafeSourceError(f"Refusing project URI {mask_credentials(url)!r}: host or user name starts with '-'")


def _check_version(version: str) -> None:
    if not _VERSION.match(version) or ".." in version or version.endswith((".lock", "/", ".")):
        raise UnsafeSourceError(
            f"Refusing version {version!r}: expected a branch, tag or commit name",
            hint="names may use letters, digits and . _ / + @ - and must not start with '-'",
        )


def _safe_subdirectory(subdirectory: str, uri: str) -> str:
    """A normalised relative subdirectory; refuse anything that could leave the repository."""
    if not subdirectory:
        return ""
    if subdirectory.startswith(("/", "\\")) or any(part == ".." for part in re.split(r"[/\\]", subdirectory)):
        raise UnsafeSourceError(
            f"Refusing subdirectory {subdirectory!r} in {mask_credentials(uri)!r}: it must stay inside the repository"
        )
    parts = [part for part in subdirectory.split("/") if part not in ("", ".")]
    return "/".join(parts)


def _inside(root: Path, subdirectory: str, uri: str) -> Path:
    """`root/subdirectory`, which must exist and (symlinks resolved) stay inside root."""
    target = (root / subdirectory).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafeSourceError(f"Refusing subdirectory {subdirectory!r} in {uri!r}: it leads outside the repository")
    if not target.is_dir():
        raise SourceError(f"No subdirectory {subdirectory!r} in {uri!r}")
    return target


# --- local folders -------------------------------------------------------------------------


def _from_local_folder(folder: Path, uri: str, subdirectory: str, version: str | None,
                       progress: Progress) -> ProjectSource:
    folder = folder.absolute()
    uri = str(folder) + (f"#{subdirectory}" if subdirectory else "")  # records outlive the current folder
    if not folder.is_dir():
        raise SourceError(f"Cannot run {uri!r}: it is a file, not a project folder",
                          hint="give the folder that holds the MLproject file")
    top = _toplevel(folder)
    if version is not None:
        if top is None:
            raise UsageError(f"--version needs a git repository, and {folder} is not in one")
        return _from_git(str(top), uri, _within(top, folder, subdirectory), version, progress)
    path = _inside(folder, subdirectory, uri)
    if top is None:
        return ProjectSource(uri=uri, kind="local", path=path, subdirectory=subdirectory)
    source = ProjectSource(uri=uri, kind="local", path=path, subdirectory=_within(top, path, ""))
    _record_working_tree(source, top)
    return source


def _within(top: Path, folder: Path, subdirectory: str) -> str:
    """The project's path relative to the repository root, as a `#subdir` would give it."""
    inner = folder.resolve().relative_to(top.resolve()).as_posix()
    return "/".join(part for part in (inner, subdirectory) if part and part != ".")


def _toplevel(folder: Path) -> Path | None:
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], cwd=folder).strip())
    except _GitFailure:
        return None  # not in a repository, or git is not installed


def _record_working_tree(source: ProjectSource, top: Path) -> None:
    """Commit, remote, dirty flag and the uncommitted diff (new files included).

    The diff is taken through a temporary copy of the index, so what the user has staged is
    never modified.
    """
    try:
        source.commit = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=top).strip() or None
    except _GitFailure:
        source.commit = None  # a repository without commits yet
    try:
        source.repo_url = mask_credentials(_git(["config", "--get", "remote.origin.url"], cwd=top).strip())
    except _GitFailure:
        source.repo_url = None
    index = Path(_git(["rev-parse", "--git-path", "index"], cwd=top).strip())
    index = index if index.is_absolute() else top / index
    with tempfile.TemporaryDirectory(prefix="proj-index-") as scratch:
        scratch_index = Path(scratch) / "index"
        if index.exists():
            shutil.copyfile(index, scratch_index)
        env = {"GIT_INDEX_FILE": str(scratch_index)}
        _git(["add", "--intent-to-add", "--all"], cwd=top, env=env)
        base = source.commit or _EMPTY_TREE
        source.diff = _git(["diff", base, "--binary", "--no-color", "--no-ext-diff", "--no-textconv"],
                           cwd=top, env=env, text=False)
    source.dirty = bool(source.diff)
    source.diff_hash = hashlib.sha256(source.diff).hexdigest() if source.diff else None


# --- git repositories ----------------------------------------------------------------------


def _apply_diff(source: ProjectSource, diff: bytes) -> None:
    if source.checkout is None:
        source.release()
        raise UsageError("Recorded changes can only be applied to a checkout of a commit (give a version)")
    try:
        _git(["apply", "--binary", "--whitespace=nowarn", "-"], cwd=source.checkout, input=diff)
    except _GitFailure as err:
        source.release()
        raise PatchError(f"The recorded uncommitted changes do not apply to commit {source.commit}: "
                         f"{err.reason}") from None
    source.diff, source.dirty = diff, True
    source.diff_hash = hashlib.sha256(diff).hexdigest()


def _from_git(url: str, uri: str, subdirectory: str, version: str | None, progress: Progress) -> ProjectSource:
    """Fetch `url` into its mirror and add a worktree of the requested commit for this run."""
    mirror = _mirror_path(url)
    secrets = _secrets_in(url)
    with file_lock(_lock_path(mirror), on_wait=lambda: progress(f"waiting for another proj fetching {uri}")):
        _ensure_mirror(mirror)
        progress(f"fetching {uri}" + (f" at {version}" if version else ""))
        commit = _resolve_commit(mirror, url, version, uri, secrets)
        _git(["update-ref", f"refs/proj/commits/{commit}", commit], cwd=mirror)
        _reap_stale_checkouts(mirror)
        checkout = _add_worktree(mirror, commit)
    try:
        if (checkout / ".gitmodules").is_file():
            progress("initialising submodules")
            _init_submodules(checkout, url, uri, secrets)
        path = _inside(checkout, subdirectory, uri)
    except BaseException:
        with file_lock(_lock_path(mirror)):
            _remove_worktree(mirror, checkout)
        raise
    return ProjectSource(uri=uri, kind="git", path=path, subdirectory=subdirectory, version=version,
                         commit=commit, dirty=False, repo_url=mask_credentials(url), checkout=checkout,
                         _mirror=mirror)


def _mirror_path(url: str) -> Path:
    """One bare mirror per repository, whatever credentials the URL carries."""
    parts = urlsplit(url)
    anonymous = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])) if "://" in url else url
    digest = hashlib.sha256(anonymous.rstrip("/").encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", anonymous.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])[:40]
    return cache_dir("git") / f"{name}-{digest}"


def _lock_path(mirror: Path) -> Path:
    return mirror.with_name(mirror.name + ".lock")


def _ensure_mirror(mirror: Path) -> None:
    """A usable bare mirror; called with the mirror's lock held.

    A proj killed in the middle of `git init` leaves a mirror without HEAD, and one killed in the
    middle of a fetch leaves git's own `*.lock` files, which would make every later fetch fail
    with "File exists". Holding our lock, we know no git process owns them.
    """
    if not (mirror / "HEAD").is_file():
        shutil.rmtree(mirror, ignore_errors=True)
        _git(["init", "--quiet", "--bare", str(mirror)])
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
        return _git(["rev-parse", "--verify", "FETCH_HEAD^{commit}"], cwd=mirror).strip()
    except _GitFailure as shallow_error:
        if version is None:
            raise SourceError(f"Cannot fetch {uri}: {shallow_error.reason}") from None
    deepen = ["--unshallow"] if (mirror / "shallow").exists() else []
    try:
        _fetch(mirror, url, [*deepen, "--tags", "--", url, "+refs/heads/*:refs/remotes/origin/*"], secrets)
    except _GitFailure as err:
        raise SourceError(f"Cannot fetch {uri}: {err.reason}") from None
    for candidate in (version, f"refs/remotes/origin/{version}", f"refs/tags/{version}"):
        known = _known_commit(mirror, candidate)
        if known:
            return known
    raise UnknownVersionError(f"Unknown version {version!r} in {uri}: no such branch, tag or commit",
                              version=version)


def _known_commit(mirror: Path, name: str) -> str | None:
    try:
        return _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"],
                    cwd=mirror).strip() or None
    except _GitFailure:
        return None


def _fetch(mirror: Path, url: str, args: list[str], secrets: list[str]) -> None:
    _git(["-c", "protocol.ext.allow=never", "fetch", "--quiet", *args], cwd=mirror, secrets=secrets)


def _add_worktree(mirror: Path, commit: str) -> Path:
    owner = f"{socket.gethostname()}-{os.getpid()}"
    checkout = Path(tempfile.mkdtemp(prefix=f"{mirror.name}-{commit[:12]}-{owner}-", dir=cache_dir("checkouts")))
    checkout.rmdir()  # git creates it
    _git(["worktree", "add", "--detach", "--force", str(checkout), commit], cwd=mirror)
    return checkout


def _remove_worktree(mirror: Path, checkout: Path) -> None:
    try:
        _git(["worktree", "remove", "--force", "--force", str(checkout)], cwd=mirror)
    except _GitFailure:
        shutil.rmtree(checkout, ignore_errors=True)
        _git(["worktree", "prune"], cwd=mirror)


def _reap_stale_checkouts(mirror: Path) -> None:
    """Remove checkouts left by a proj on this host that died before cleaning up."""
    host = socket.gethostname()
    for checkout in cache_dir("checkouts").glob(f"{mirror.name}-*"):
        match = re.match(rf"{re.escape(mirror.name)}-[0-9a-f]{{12}}-(?P<host>.+)-(?P<pid>\d+)-", checkout.name)
        kept = any(_holders_dir(checkout).glob("*"))  # a scheduled job still needs it
        if match and match.group("host") == host and not _pid_alive(int(match.group("pid"))) and not kept:
            _remove_worktree(mirror, checkout)
    _git(["worktree", "prune"], cwd=mirror)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _init_submodules(checkout: Path, url: str, uri: str, secrets: list[str]) -> None:
    # Since git 2.38.1 submodules may not use file:// (CVE-2022-39253); allow it only when the
    # project itself is local, so a remote repository cannot make proj read local files.
    local = url.startswith("file://") or Path(url).exists()
    allow_file = ["-c", "protocol.file.allow=always"] if local else []
    try:
        _git([*allow_file, "-c", "protocol.ext.allow=never", "submodule", "--quiet", "update", "--init",
              "--recursive"], cwd=checkout, secrets=secrets)
    except _GitFailure as err:
        raise SourceError(f"Cannot initialise the submodules of {uri}: {err.reason}") from None


# --- running git ---------------------------------------------------------------------------


class _GitFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _secrets_in(url: str) -> list[str]:
    parts = urlsplit(url) if "://" in url else None
    if parts is None or "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return [piece for piece in userinfo.split(":") if piece] if mask_credentials(url) != url else []


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "LC_ALL": "C", **(extra or {})}
    if not sys.stdin.isatty():
        env["GIT_TERMINAL_PROMPT"] = "0"  # never hang waiting for a password nobody can type
    return env


def _git(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         secrets: list[str] = (), text: bool = True, input: bytes | None = None):
    try:
        result = run_tool(["git", *args], cwd=cwd, env=_git_env(env), binary=not text, input=input)
    except ToolError as err:
        output = err.output
        for secret in secrets:
            output = output.replace(secret, "***")
        lines = [line for line in output.strip().splitlines() if line.strip()]
        raise _GitFailure(lines[-1] if lines else str(err)) from None
    return result.output
