"""Real git repositories made inside tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, files: dict[str, str] | None = None, message: str = "initial") -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", "--initial-branch=main")
        if files:
            repo.commit(files, message)
        return repo

    def git(self, *args: str) -> str:
        env = {**os.environ, **_IDENTITY}
        result = subprocess.run(["git", "-c", "protocol.file.allow=always", *args], cwd=self.path, env=env,
                                capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        self.write(files)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        """A URL git fetches from. Not `file:///repo` itself: like MLflow, proj runs that
        folder's working tree in place; its `.git` folder is a repository without one."""
        return (self.path / ".git").as_uri()

    def snapshot(self) -> dict[str, str]:
        """Everything a `--version` run must leave unchanged: HEAD, refs, remotes, files, index."""
        files = {
            str(p.relative_to(self.path)): p.read_bytes().hex()
            for p in sorted(self.path.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(self.path).parts
        }
        return {
            "HEAD": (self.path / ".git" / "HEAD").read_text(),
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "remotes": self.git("remote", "-v"),
            "status": self.git("status", "--porcelain"),
            "index": (self.path / ".git" / "index").read_bytes().hex(),
            "config": (self.path / ".git" / "config").read_text(),
            "files": repr(files),
        }
