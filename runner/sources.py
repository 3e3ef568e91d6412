"""Where a project comes from: a local folder run in place, a git repository, or an archive.

A git repository is fetched into a cached mirror and every run gets its own worktree of the
exact commit (runner.gitmirror). A local folder given with `--version` goes through the same
path: the user's own checkout, branches and remotes are never touched.

URIs, versions and subdirectories are checked before git sees them: no remote-helper
transports, nothing git could read as an option, no subdirectory outside the repository.
Credentials in URLs are masked in everything proj records or prints.
"""

from __future__ import annotations

import os
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterable, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from runner import archives
from runner.errors import ArchiveChangedError, PatchError, SourceError, UnsafeSourceError, UsageError
from runner.locations import user_path
from runner.secrets import masked_query

# runner.gitmirror (and with it the subprocess machinery, hashlib and tempfile) is imported by the
# functions that use git: a local folder outside any repository never does (start-up budget).

GIT_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
ARCHIVE_SCHEMES = ("https", "http", "file")
_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[^:].*)$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+@-]*$")
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_USERINFO = re.compile(r"://[^/@]*@")

Progress = Callable[[str], None]


@dataclass
class ProjectSource:
    """The folder a run executes in, and the provenance recorded with it.

    A context manager: `with fetch_project(uri) as source:` removes the run's own checkout on
    leaving the block, whatever happens in it (local folders are left alone).
    """

    uri: str  # as the user gave it, credentials masked
    kind: str  # "local", "git" or "archive"
    path: Path  # the project folder (checkout + subdirectory)
    subdirectory: str = ""
    version: str | None = None  # as requested with --version
    commit: str | None = None
    dirty: bool | None = None  # None when the folder is not in a git repository
    diff: bytes = b""  # uncommitted changes, untracked files included
    diff_hash: str | None = None
    repo_url: str | None = None  # masked
    checkout: Path | None = None  # a per-run worktree or unpacked archive, removed when the `with` block ends
    archive_sha256: str | None = None  # for a project archive (runner.archives)
    _mirror: Path | None = field(default=None, repr=False)

    def __enter__(self) -> ProjectSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._release()

    def _release(self) -> None:
        """Remove the per-run checkout or unpacked archive (local folders are left alone)."""
        if self.checkout is not None and self.kind == "archive":
            archives.remove(self.checkout.parent)
            self.checkout = None
        if self.checkout is None or self._mirror is None:
            return
        from runner import gitmirror

        gitmirror.remove_checkout(self._mirror, self.checkout)
        self.checkout = None

    def keep_checkout(self, holders: Iterable[str]) -> Path | None:
        """Let the per-run checkout outlive this process, for jobs a scheduler starts later.

        Each holder (a run id) gives it back with `release_kept_checkout`, and the last one
        removes it; until then leaving the `with` block keeps it and no other proj reaps it. Returns the
        checkout, or None for a local folder (there is nothing to keep).
        """
        if self.checkout is not None and self.kind == "archive":
            archives.keep(self.checkout.parent, holders)
        elif self.checkout is None or self._mirror is None:
            return None
        else:
            from runner import gitmirror

            gitmirror.keep_checkout(self.checkout, holders)
        kept, self.checkout = self.checkout, None
        return kept


def mask_credentials(uri: str) -> str:
    """`https://user:token@host/x` → `https://***@host/x`, and the values of secret-looking query
    parameters (`?private_token=...`) → `***`; ssh user names are kept."""
    try:
        parts = urlsplit(uri)
    except ValueError:  # not a URL Python can take apart (`https://[::1/x`): mask what looks like userinfo
        return _USERINFO.sub("://***@", uri)
    if not parts.scheme:
        return uri
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        if parts.scheme in ("http", "https") or ":" in userinfo:
            parts = parts._replace(netloc=f"***@{host}")
    if parts.query:
        parts = parts._replace(query=masked_query(parts.query))
    return urlunsplit(parts)


def strip_quotes(uri: str) -> str:
    """MLflow strips quotes around a URI (`"'path#sub'"`, quoted twice by a script); so does proj."""
    return uri.strip("'\"")


def split_subdirectory(uri: str) -> tuple[str, str]:
    """`repo#sub/dir` → (`repo`, `sub/dir`)."""
    base, _, subdirectory = uri.partition("#")
    return base, subdirectory


def fetch_project(uri: str, version: str | None = None, *, progress: Progress | None = None,
                  apply_diff: bytes | None = None, archive_sha256: str | None = None) -> ProjectSource:
    """Make the project at `uri` available on disk, as a context manager (`with ... as source`)
    whose end removes the run's own checkout or unpacked archive.

    `apply_diff` (a recorded run's uncommitted changes) is applied to the run's own checkout of
    `version`, which re-creates that run's dirty working tree without touching any user folder.
    `archive_sha256` (a recorded archive's hash) must match the archive fetched now.
    """
    progress = progress or (lambda _message: None)
    source = _fetch_source(uri, version, progress)
    if archive_sha256 is not None and source.archive_sha256 != archive_sha256:
        with source:  # it is not the project asked for: nothing of it stays
            raise ArchiveChangedError(f"The archive {source.uri} is not the one recorded: its SHA-256 is "
                                      f"{source.archive_sha256 or '(not an archive)'}, the recorded one "
                                      f"{archive_sha256}")
    if apply_diff:
        with ExitStack() as on_failure:
            on_failure.enter_context(source)  # the checkout goes if the changes do not apply
            _apply_diff(source, apply_diff)
            on_failure.pop_all()
    return source


def _fetch_source(uri: str, version: str | None, progress: Progress) -> ProjectSource:
    uri = strip_quotes(uri)
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
    _check_url_syntax(base)
    if archives.is_archive(base) and (user_path(base).is_file() or _scheme(base) in ARCHIVE_SCHEMES):
        if version is not None:
            raise UsageError(f"--version selects a commit of a git repository, and {mask_credentials(base)!r} "
                             "is an archive")
        return _from_archive(base, mask_credentials(uri), subdirectory, progress)
    local = _local_path(base)
    if local is not None and not _is_git_dir(local):  # file:///repo is the folder, as in MLflow
        return _from_local_folder(local, uri, subdirectory, version, progress)
    if local is not None:  # a bare repository (or a .git folder): fetched with git
        base = local.absolute().as_uri()
    if is_git_url(base):
        _check_git_url(base)
        return _fromrun_git(base, mask_credentials(uri), subdirectory, version, progress)
    if "://" in base:
        scheme = urlsplit(base).scheme
        raise UnsafeSourceError(f"Refusing project URI {mask_credentials(uri)!r}: unsupported scheme {scheme!r}",
                                hint=f"supported: {', '.join(GIT_SCHEMES)}, a local folder, or a .zip/.tar.gz "
                                     "archive (a file or an http(s) URL)")
    raise SourceError(f"Cannot fetch project {uri!r}: no such folder, and not a git URL",
                      hint="git URLs look like https://host/org/repo.git, file:///path/repo or git@host:org/repo.git")


def _scheme(uri: str) -> str:
    return urlsplit(uri).scheme.lower() if "://" in uri else ""


def _local_path(base: str) -> Path | None:
    """The existing folder `base` names: a path, or a `file:` URL of this machine."""
    if _scheme(base) == "file":
        parts = urlsplit(base)
        path = Path(unquote(parts.path)) if parts.netloc in ("", "localhost") else None
    else:
        path = user_path(base) if base else None
    return path if path is not None and path.exists() else None


def _is_git_dir(folder: Path) -> bool:
    """A repository without a working tree (bare, or the .git folder itself): nothing to run in
    place. Git's own test, read from the folder without starting git (start-up budget)."""
    return (folder / "HEAD").is_file() and (folder / "objects").is_dir() and (folder / "refs").is_dir()


def _from_archive(location: str, uri: str, subdirectory: str, progress: Progress) -> ProjectSource:
    unpacked = archives.fetch_archive(location, mask_credentials(location), progress)
    try:
        path = _inside(unpacked.tree, subdirectory, uri)
    except BaseException:
        archives.remove(unpacked.folder)
        raise
    shown = uri if _scheme(location) else str(user_path(location).absolute()) + (
        f"#{subdirectory}" if subdirectory else "")  # records outlive the current folder
    return ProjectSource(uri=shown, kind="archive", path=path, subdirectory=subdirectory,
                         checkout=unpacked.tree, archive_sha256=unpacked.sha256)


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


def _check_url_syntax(uri: str) -> None:
    """A URL Python cannot take apart (an unclosed `[`, a bracketed host that is no address)."""
    if "://" not in uri:
        return
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - reading it checks that the port is a number in range
    except ValueError as err:
        raise UnsafeSourceError(f"Refusing project URI {mask_credentials(uri)!r}: it is not a valid URL ({err})",
                                hint="git URLs look like https://host/org/repo.git or ssh://user@host/org/repo.git"
                                ) from None


def _check_git_url(url: str) -> None:
    """Refuse host or user names that ssh would read as an option (`-oProxyCommand=...`)."""
    if "://" in url:
        parts = urlsplit(url)
        names: tuple[str, ...] = (parts.hostname or "", parts.username or "")
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
        return _fromrun_git(str(top), uri, _within(top, folder, subdirectory), version, progress)
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
    if not _may_be_in_a_repository(folder):
        return None  # saves starting git (a few ms of every `proj run` of a plain folder)
    from runner.gitmirror import GitFailure, run_git

    try:
        return Path(run_git(["rev-parse", "--show-toplevel"], cwd=folder).strip())
    except GitFailure:
        return None  # not in a repository, or git is not installed


def _may_be_in_a_repository(folder: Path) -> bool:
    """False only when git surely finds no repository: no `.git` in the folder or above it,
    and no variable that points git elsewhere."""
    if any(name in os.environ for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES",
                                           "GIT_DISCOVERY_ACROSS_FILESYSTEM")):
        return True
    physical = folder.resolve()  # git walks up from the real folder, past any symbolic link
    return any(os.path.lexists(os.path.join(parent, ".git"))
               for parent in {folder, *folder.parents, physical, *physical.parents})


def _record_working_tree(source: ProjectSource, top: Path) -> None:
    """Commit, remote, dirty flag and the uncommitted diff (new files included).

    The diff is taken through a temporary copy of the index, so what the user has staged is
    never modified.
    """
    import hashlib
    import shutil
    import tempfile

    from runner.gitmirror import GitFailure, run_git, run_git_binary

    try:
        source.commit = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=top).strip() or None
    except GitFailure:
        source.commit = None  # a repository without commits yet
    try:
        source.repo_url = mask_credentials(run_git(["config", "--get", "remote.origin.url"], cwd=top).strip())
    except GitFailure:
        source.repo_url = None
    index = Path(run_git(["rev-parse", "--git-path", "index"], cwd=top).strip())
    index = index if index.is_absolute() else top / index
    with tempfile.TemporaryDirectory(prefix="proj-index-") as scratch:
        scratch_index = Path(scratch) / "index"
        if index.exists():
            shutil.copyfile(index, scratch_index)
        env = {"GIT_INDEX_FILE": str(scratch_index)}
        run_git(["add", "--intent-to-add", "--all"], cwd=top, env=env)
        base = source.commit or _EMPTY_TREE
        source.diff = run_git_binary(["diff", base, "--binary", "--no-color", "--no-ext-diff", "--no-textconv"],
                                     cwd=top, env=env)
    source.dirty = bool(source.diff)
    source.diff_hash = hashlib.sha256(source.diff).hexdigest() if source.diff else None


# --- git repositories ----------------------------------------------------------------------


def _apply_diff(source: ProjectSource, diff: bytes) -> None:
    import hashlib

    from runner import gitmirror
    from runner.gitmirror import GitFailure

    if source.checkout is None:
        raise UsageError("Recorded changes can only be applied to a checkout of a commit (give a version)")
    try:
        gitmirror.apply_patch(source.checkout, diff)
    except GitFailure as err:
        raise PatchError(f"The recorded uncommitted changes do not apply to commit {source.commit}: "
                         f"{err.reason}") from None
    source.diff, source.dirty = diff, True
    source.diff_hash = hashlib.sha256(diff).hexdigest()


def _fromrun_git(url: str, uri: str, subdirectory: str, version: str | None, progress: Progress) -> ProjectSource:
    """A worktree of the requested commit of `url`, for this run alone."""
    from runner import gitmirror

    checkout = gitmirror.check_out(url, version, uri=uri, progress=progress)
    try:
        path = _inside(checkout.path, subdirectory, uri)
    except BaseException:
        gitmirror.remove_checkout(checkout.mirror, checkout.path)
        raise
    return ProjectSource(uri=uri, kind="git", path=path, subdirectory=subdirectory, version=version,
                         commit=checkout.commit, dirty=False, repo_url=mask_credentials(url),
                         checkout=checkout.path, _mirror=checkout.mirror)




class KeptSource(NamedTuple):
    """A per-run checkout or unpacked archive left on disk: held for scheduled runs, or left by a
    proj that died (`proj gc` looks at them)."""

    path: Path
    holders: tuple[str, ...]  # run ids it is kept for
    abandoned: bool  # made by a proj on this host that has died
    kind: str  # git | archive


def kept_sources() -> list[KeptSource]:
    from runner import gitmirror

    found = [KeptSource(path, tuple(holders), abandoned, "git") for path, holders, abandoned in
             gitmirror.list_checkouts()]
    return found + [KeptSource(path, tuple(holders), abandoned, "archive") for path, holders, abandoned in
                    archives.list_unpacked()]


def discard_kept(kept: KeptSource) -> None:
    """Remove a kept checkout or unpacked archive, whatever holds it."""
    if kept.kind == "git":
        from runner import gitmirror

        gitmirror.discard_checkout(kept.path)
    else:
        archives.remove(kept.path)


def release_kept_checkout(checkout: Path, holder: str) -> None:
    """`holder` (a run id) no longer needs a checkout kept with `ProjectSource.keep_checkout`."""
    if archives.is_unpacked(checkout):
        archives.release_kept(checkout, holder)
    else:
        from runner import gitmirror

        gitmirror.release_kept_checkout(checkout, holder)
