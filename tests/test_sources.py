"""Fetching projects from local folders and real git repositories made in the test."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from conftest import run_proj
from helpers.gitrepo import GitRepo
from runner.errors import SourceError, UnsafeSourceError, UsageError
from runner.sources import fetch_project, is_git_url, mask_credentials

pytestmark = [pytest.mark.git, pytest.mark.usefixtures("git_available")]

SPEC = "name: demo\nentry_points:\n  main:\n    command: cat version.txt\n"


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    """main: v1 (tagged v1.0) → v2 → v3; branch `feature` with its own commit."""
    repo = GitRepo.create(tmp_path / "repo", {"MLproject": SPEC, "version.txt": "v1\n", "sub/MLproject": SPEC,
                                               "sub/version.txt": "sub v1\n"}, "v1")
    repo.git("tag", "v1.0")
    repo.commit({"version.txt": "v2\n"}, "v2")
    repo.commit({"version.txt": "v3\n"}, "v3")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.commit({"version.txt": "feature\n"}, "feature")
    repo.git("checkout", "--quiet", "main")
    return repo


def fetched_text(uri: str, version: str | None = None, name: str = "version.txt") -> tuple[str, str]:
    with fetch_project(uri, version) as source:
        return (source.path / name).read_text(), source.commit


def test_local_folder_outside_git_has_no_commit(tmp_path):
    (tmp_path / "MLproject").write_text(SPEC)
    source = fetch_project(str(tmp_path))
    assert (source.kind, source.path, source.commit, source.dirty) == ("local", tmp_path, None, None)


def test_a_tilde_of_no_known_user_is_a_folder_name_as_in_a_shell(tmp_path):
    """`~name/...` is that user's home, or, when no user has that name, a folder named so, as a
    shell reads it (pathlib's expanduser raises instead: `proj run ~0` was a traceback)."""
    missing = run_proj("run", "~nosuchuser-proj/project", cwd=tmp_path)
    assert missing.returncode == 126, missing.stderr
    assert "Cannot fetch project '~nosuchuser-proj/project': no such folder" in missing.stderr
    project = tmp_path / "~nosuchuser-proj" / "project"
    project.mkdir(parents=True)
    (project / "MLproject").write_text("name: demo\nentry_points:\n  main:\n    command: echo ran\n")
    assert run_proj("run", "~nosuchuser-proj/project", cwd=tmp_path, check_exit=0).stdout == "ran\n"


def test_local_clean_repository_records_its_commit(repo):
    source = fetch_project(str(repo.path))
    assert (source.commit, source.dirty, source.diff, source.diff_hash) == (repo.head(), False, b"", None)
    assert source.checkout is None and source.path == repo.path  # runs in place


def test_local_dirty_repository_records_the_diff_with_new_files_and_keeps_the_index(repo):
    repo.write({"version.txt": "edited\n", "new_file.py": "print('new')\n"})
    repo.git("add", "version.txt")  # something staged, to prove the user's index is untouched
    index_before = (repo.path / ".git" / "index").read_bytes()
    source = fetch_project(str(repo.path))
    assert source.dirty is True
    assert b"+edited" in source.diff and b"new_file.py" in source.diff and b"+print('new')" in source.diff
    assert source.diff_hash == hashlib.sha256(source.diff).hexdigest()
    assert (repo.path / ".git" / "index").read_bytes() == index_before
    assert repo.git("status", "--porcelain").splitlines() == ["M  version.txt", "?? new_file.py"]
    # the recorded diff re-creates the working tree on a clean checkout of the commit
    clone = repo.path.parent / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo.path), str(clone)], check=True)
    subprocess.run(["git", "apply", "-"], input=source.diff, cwd=clone, check=True)
    assert (clone / "version.txt").read_text() == "edited\n" and (clone / "new_file.py").exists()


def test_local_subfolder_of_a_repository_records_its_subdirectory(repo):
    source = fetch_project(str(repo.path / "sub"))
    assert source.subdirectory == "sub" and source.commit == repo.head()
    source = fetch_project(f"{repo.path}#sub")
    assert source.subdirectory == "sub" and source.path == repo.path / "sub"


def test_file_url_runs_the_default_branch_in_its_own_checkout(repo):
    with fetch_project(repo.url) as source:
        assert (source.path / "version.txt").read_text() == "v3\n"
        assert source.commit == repo.head() and source.kind == "git" and source.dirty is False
        assert source.checkout is not None and repo.path not in source.path.parents
        checkout = source.checkout
    assert not checkout.exists()


@pytest.mark.parametrize("version, expected", [
    ("feature", "feature\n"), ("v1.0", "v1\n"), ("main", "v3\n"),
])
def test_version_as_branch_or_tag(repo, version, expected):
    assert fetched_text(repo.url, version)[0] == expected


def test_version_as_full_and_short_commit_including_an_old_one(repo):
    old = repo.git("rev-parse", "HEAD~2")
    assert fetched_text(repo.url, old) == ("v1\n", old)
    middle = repo.git("rev-parse", "HEAD~1")
    assert fetched_text(repo.url, middle[:8]) == ("v2\n", middle)


def test_short_commit_after_a_shallow_fetch_deepens_the_mirror(repo):
    assert fetched_text(repo.url)[0] == "v3\n"  # mirror is shallow now
    old = repo.git("rev-parse", "HEAD~2")
    assert fetched_text(repo.url, old[:7]) == ("v1\n", old)


def test_subdirectory_of_a_git_url(repo):
    assert fetched_text(f"{repo.url}#sub")[0] == "sub v1\n"
    assert fetched_text(f"{repo.url}#./sub/")[0] == "sub v1\n"


def test_second_fetch_reuses_the_mirror_and_sees_new_commits(repo, isolated_home):
    fetched_text(repo.url)
    mirrors = list((isolated_home / "git").iterdir())
    new = repo.commit({"version.txt": "v4\n"}, "v4")
    assert fetched_text(repo.url) == ("v4\n", new)
    assert list((isolated_home / "git").iterdir()) == mirrors


def test_submodules_are_initialised(tmp_path):
    library = GitRepo.create(tmp_path / "lib", {"lib.txt": "from the submodule\n"})
    main = GitRepo.create(tmp_path / "main", {"MLproject": SPEC, "version.txt": "x\n"})
    main.git("submodule", "--quiet", "add", library.url, "vendor/lib")
    main.git("commit", "--quiet", "-m", "add submodule")
    assert fetched_text(main.url, name="vendor/lib/lib.txt")[0] == "from the submodule\n"


def test_version_on_a_local_repository_never_touches_it(repo):
    repo.write({"untracked.txt": "mine\n"})
    before = repo.snapshot()
    old = repo.git("rev-parse", "HEAD~2")
    for version in ("feature", "v1.0", old, old[:7]):
        with fetch_project(str(repo.path), version):
            pass
    assert repo.snapshot() == before


def test_version_on_a_local_subfolder_keeps_the_subfolder(repo):
    with fetch_project(str(repo.path / "sub"), "v1.0") as source:
        assert source.subdirectory == "sub" and (source.path / "version.txt").read_text() == "sub v1\n"


def test_version_outside_git_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="needs a git repository"):
        fetch_project(str(tmp_path), "main")


def test_unknown_version_is_named(repo):
    with pytest.raises(SourceError, match="Unknown version 'no-such-branch'"):
        fetch_project(repo.url, "no-such-branch")


def test_unreachable_remote_names_the_uri_and_masks_credentials():
    with pytest.raises(SourceError) as caught:
        fetch_project("https://alice:s3cr3t-token@127.0.0.1:9/org/repo.git")
    message = str(caught.value)
    assert "https://***@127.0.0.1:9/org/repo.git" in message and "s3cr3t" not in message


def test_missing_folder_and_missing_subdirectory(tmp_path, repo):
    with pytest.raises(SourceError, match="no such folder"):
        fetch_project(str(tmp_path / "absent"))
    with pytest.raises(SourceError, match="No subdirectory 'nope'"):
        fetch_project(f"{repo.url}#nope")


@pytest.mark.parametrize("uri", [
    "ext::sh -c touch% /tmp/pwned", "fd::17", "--upload-pack=touch /tmp/pwned", "-oProxyCommand=x:repo",
    "ssh://-oProxyCommand=touch/repo", "ftp://example.com/repo.git", "repo\n--help",
])
def test_dangerous_uris_are_refused_before_git_sees_them(uri):
    with pytest.raises(UnsafeSourceError):
        fetch_project(uri)


@pytest.mark.parametrize("version", ["--upload-pack=touch", "a..b", "x y", "HEAD@{1}..", "-v", "a:b"])
def test_dangerous_versions_are_refused(repo, version):
    with pytest.raises(UnsafeSourceError):
        fetch_project(repo.url, version)


@pytest.mark.parametrize("subdirectory", ["../..", "/etc", "a/../../b", "..\\x"])
def test_subdirectories_outside_the_repository_are_refused(repo, subdirectory):
    with pytest.raises(UnsafeSourceError):
        fetch_project(f"{repo.url}#{subdirectory}")


def test_symlinked_subdirectory_leading_outside_is_refused(repo, tmp_path):
    os.symlink(tmp_path, repo.path / "escape")
    repo.git("add", "escape")
    repo.git("commit", "--quiet", "-m", "symlink")
    with pytest.raises(UnsafeSourceError, match="leads outside"):
        fetch_project(f"{repo.path}#escape")


@pytest.mark.parametrize("uri, expected", [
    ("https://user:token@github.com/o/r.git", "https://***@github.com/o/r.git"),
    ("https://token@github.com/o/r.git", "https://***@github.com/o/r.git"),
    ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
    ("ssh://git:pw@host/r.git", "ssh://***@host/r.git"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ("/a/local/path", "/a/local/path"),
])
def test_credentials_are_masked(uri, expected):
    assert mask_credentials(uri) == expected


@pytest.mark.parametrize("uri, expected", [
    ("https://h/o/r.git", True), ("file:///srv/r", True), ("ssh://h/r", True), ("git@github.com:org/r.git", True),
    ("host:path/r", True), ("./relative/dir", False), ("/abs/dir", False), ("s3://bucket/x", False),
])
def test_git_url_detection(uri, expected):
    assert is_git_url(uri) is expected


def test_checkouts_of_dead_runs_are_reaped(repo, isolated_home):
    source = fetch_project(repo.url)
    dead = source.checkout.with_name(source.checkout.name.replace(f"-{os.getpid()}-", "-999999999-"))
    source.checkout.rename(dead)  # as if proj pid 999999999 had died holding it
    with fetch_project(repo.url):
        pass
    assert not dead.exists()
    assert list((isolated_home / "checkouts").iterdir()) == []


def test_a_fetched_checkout_is_removed_when_its_block_ends_even_by_an_error(repo):
    with pytest.raises(RuntimeError, match="the run broke"), fetch_project(repo.url) as source:
        checkout = source.checkout
        assert checkout is not None and checkout.is_dir()
        raise RuntimeError("the run broke")
    assert not checkout.exists()


def test_a_checkout_kept_for_a_scheduled_job_outlives_the_block_until_given_back(repo):
    from runner.sources import release_kept_checkout

    with fetch_project(repo.url) as source:
        kept = source.keep_checkout(["a" * 32, "b" * 32])
    assert kept is not None and kept.is_dir()
    release_kept_checkout(kept, "a" * 32)
    assert kept.is_dir()  # the second job still needs it
    release_kept_checkout(kept, "b" * 32)
    assert not kept.exists()


def test_a_local_folder_is_left_alone_by_the_block(tmp_path):
    (tmp_path / "MLproject").write_text("name: here\n")
    with fetch_project(str(tmp_path)) as source:
        assert source.checkout is None and source.path == tmp_path
    assert (tmp_path / "MLproject").exists()
