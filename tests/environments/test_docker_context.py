"""Build contexts made by proj: .dockerignore rules, symlinks, the content hash, the tar."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from runner.environments.docker_context import (
    compile_patterns,
    is_ignored,
    scan_context,
    write_context_tar,
)


@pytest.mark.parametrize("patterns, path, ignored", [
    (["*.log"], "a.log", True),
    (["*.log"], "sub/a.log", False),  # `*` stays within one folder, as in Docker
    (["**/*.log"], "sub/deep/a.log", True),
    (["**/*.log"], "a.log", True),
    (["data"], "data/x/y.csv", True),  # a folder's contents go with it
    (["data/"], "data/y.csv", True),
    (["/data"], "data/y.csv", True),  # a leading slash means the context root
    (["data", "!data/keep.csv"], "data/keep.csv", False),
    (["data", "!data/keep.csv"], "data/other.csv", True),
    (["!data/keep.csv", "data"], "data/keep.csv", True),  # the last match wins
    (["file?.txt"], "file1.txt", True),
    (["file?.txt"], "file10.txt", False),
    (["[ab].txt"], "b.txt", True),
    (["[^ab].txt"], "b.txt", False),
    (["docs/**"], "docs/a/b.md", True),
    (["docs/**"], "docs", False),
    (["a/**/z"], "a/z", True),
    (["a/**/z"], "a/b/c/z", True),
    (["./build"], "build/out.o", True),
    (["."], "anything", False),
    (["\\*literal"], "*literal", True),
    (["\\*literal"], "xliteral", False),
])
def test_ignore_patterns_follow_dockers_rules(patterns, path, ignored):
    assert is_ignored(path, compile_patterns(patterns)) is ignored


def tree(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def paths(context) -> list[str]:
    return [entry.path for entry in context.entries]


def test_defaults_leave_out_git_stores_and_caches_unless_re_included(tmp_path):
    tree(tmp_path, {"train.py": "", ".git/HEAD": "", ".proj/proj.db": "", "mlruns/0/meta.yaml": "",
                    "pkg/__pycache__/m.pyc": "", "pkg/m.py": ""})
    assert paths(scan_context(tmp_path)) == ["pkg", "pkg/m.py", "train.py"]
    (tmp_path / ".dockerignore").write_text("!mlruns\n")
    assert "mlruns/0/meta.yaml" in paths(scan_context(tmp_path))


def test_hash_covers_contents_modes_and_names_but_not_times(tmp_path):
    tree(tmp_path, {"a.py": "print(1)\n", "sub/b.txt": "b"})
    first = scan_context(tmp_path).digest
    os.utime(tmp_path / "a.py", (1, 1))
    assert scan_context(tmp_path).digest == first
    (tmp_path / "a.py").chmod(0o755)
    assert scan_context(tmp_path).digest != first
    (tmp_path / "a.py").chmod(0o644)
    assert scan_context(tmp_path).digest == first
    (tmp_path / "sub" / "b.txt").write_text("c")
    assert scan_context(tmp_path).digest != first


def test_symlinks_stay_links_inside_and_are_skipped_when_they_leave(tmp_path):
    project, outside = tmp_path / "project", tmp_path / "outside"
    tree(project, {"data/x.csv": "1"})
    tree(outside, {"secret": "s"})
    (project / "rel").symlink_to("data/x.csv")
    (project / "abs").symlink_to(project / "data" / "x.csv")  # absolute, but inside
    (project / "out").symlink_to(outside / "secret")
    (project / "up").symlink_to("../outside")
    (project / "dangling").symlink_to("/nonexistent/file")
    context = scan_context(project)
    links = {e.path: e.target for e in context.entries if e.kind == "symlink"}
    assert links == {"rel": "data/x.csv", "abs": "data/x.csv"}
    assert sorted(context.skipped_links) == ["dangling", "out", "up"]


def test_the_tar_holds_the_entries_under_the_prefix_and_the_extra_files(tmp_path):
    tree(tmp_path, {"a.py": "print(1)\n", "empty/.keep": ""})
    (tmp_path / "a.py").chmod(0o750)
    (tmp_path / "link").symlink_to("a.py")
    buffer = io.BytesIO()
    write_context_tar(scan_context(tmp_path), buffer, prefix="project/", extra_files={"Dockerfile": b"FROM x\n"})
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("Dockerfile").read() == b"FROM x\n"
        assert tar.extractfile("project/a.py").read() == b"print(1)\n"
    assert members["project/a.py"].mode == 0o750 and members["project/a.py"].uid == 0
    assert members["project/link"].issym() and members["project/link"].linkname == "a.py"
    assert members["project/empty"].isdir()


def test_a_forced_file_is_included_even_inside_an_ignored_folder(tmp_path):
    tree(tmp_path, {"docker/Dockerfile": "FROM x\n", "docker/other": ""})
    (tmp_path / ".dockerignore").write_text("docker\n")
    context = scan_context(tmp_path, always_include=["docker/Dockerfile"])
    assert "docker/Dockerfile" in paths(context) and "docker/other" not in paths(context)
