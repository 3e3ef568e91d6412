"""Where `proj rerun` takes a card's code from when it runs inside a clone of the project.

A card names a fetchable source (a remote URL and a commit). Inside a clone of that project, a
CI job wants the code it checked out, not a second copy fetched from the remote: `proj rerun
card.yaml` then runs the clone's working tree (what `proj run .` would run) and `--check` says
whether that code still reproduces the card. With `--exact` (and for re-runs of a run id) the
recorded commit runs, taken from the clone when it holds the commit, so nothing is fetched.

A folder belongs to the card's project when its repository holds the recorded commit, or, in a
shallow clone that may not, when its `origin` is the card's remote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner.gitmirror import GitFailure, run_git
from runner.runcard import CardSource, RunCard


@dataclass(frozen=True)
class Clone:
    top: Path  # the repository's working tree
    head: str | None  # its HEAD commit
    holds_commit: bool  # the recorded commit is in it
    descends: bool  # HEAD is the recorded commit or a descendant of it

    def describe(self, commit: str) -> str:
        head = (self.head or "no commit")[:12]
        if self.head == commit:
            relation = "the recorded commit"
        elif self.descends:
            relation = f"which descends from the recorded {commit[:12]}"
        elif self.holds_commit:
            relation = f"which does not descend from the recorded {commit[:12]}"
        else:
            relation = f"a shallow clone of the card's remote, without the recorded {commit[:12]}"
        return f"{self.top} (commit {head}, {relation})"


def clone_of(source: CardSource, folder: Path) -> Clone | None:
    """The clone of the card's project that `folder` is in, or None."""
    if not source.commit or source.kind not in ("git", "local"):
        return None
    top = _toplevel(folder)
    if top is None or not (top / source.subdirectory).is_dir():
        return None
    holds = _git_ok(["cat-file", "-e", f"{source.commit}^{{commit}}"], top)
    if not holds and not _same_remote(_origin(top), source.location):
        return None
    head = _git_text(["rev-parse", "--verify", "--quiet", "HEAD"], top)
    descends = holds and _git_ok(["merge-base", "--is-ancestor", source.commit, "HEAD"], top)
    return Clone(top, head, holds, descends)


def _toplevel(folder: Path) -> Path | None:
    text = _git_text(["rev-parse", "--show-toplevel"], folder)
    return Path(text) if text else None


def _origin(top: Path) -> str | None:
    return _git_text(["config", "--get", "remote.origin.url"], top)


def _git_text(args: list[str], cwd: Path) -> str | None:
    try:
        return run_git(args, cwd=cwd).strip() or None
    except (GitFailure, OSError):
        return None


def _git_ok(args: list[str], cwd: Path) -> bool:
    try:
        run_git(args, cwd=cwd)
        return True
    except (GitFailure, OSError):
        return False


def _same_remote(a: str | None, b: str) -> bool:
    """The same repository, however written: credentials, scheme, `.git` and slashes aside."""
    return a is not None and _normalised(a) == _normalised(b)


def _normalised(url: str) -> str:
    url = re.sub(r"^[a-z+]+://", "", url.strip().lower())  # https://, ssh://, file://
    url = re.sub(r"^[^/@]*@", "", url)  # user, token
    url = url.replace(":", "/", 1) if re.match(r"^[^/]+:[^/]", url) else url  # scp-like host:path
    return url.rstrip("/").removesuffix(".git")


def travel_warnings(card: RunCard) -> list[str]:
    """What keeps a card from re-running on another machine, said when it is exported."""
    source = card.source
    if source.kind == "local" and not source.commit:
        return [f"run {card.run_id[:12]} ran in {source.location}, which is not in a git repository: the card "
                "re-runs only where that folder exists, as it is then"]
    if source.kind == "local":
        return [f"run {card.run_id[:12]} ran in a clone without a remote named origin: the card re-runs on this "
                f"machine, or inside a clone that holds commit {source.commit}"]
    if source.kind != "git" or not source.ran_in or not source.commit:
        return []  # a run of a git URL: the commit came from there
    folder = Path(source.ran_in)
    if folder.is_dir() and not _git_text(["branch", "--remotes", "--contains", source.commit], folder):
        return [f"commit {source.commit[:12]} is on no branch of {source.location} known to this clone: push it, "
                "or another machine cannot fetch what the card runs"]
    return []
