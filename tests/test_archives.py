"""Project archives: .zip and tar files, local or over http(s)/file URLs, unpacked safely.

The http tests serve the archives from a real http.server on 127.0.0.1 in this process.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import SETUP, USAGE
from helpers.http_files import serve_folder
from runner.errors import SourceError, UnsafeSourceError
from runner.unpack import Limits, unpack

SPEC = "name: packed\nentry_points:\n  main:\n    command: \"python3 hello.py\"\n"
HELLO = "import os; print('hello from', os.path.basename(os.getcwd()))\n"
BIG = Limits(max_bytes=10 << 20, max_members=1000)


def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                bundle.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                info.mode = 0o755 if member[0].endswith(".sh") else 0o644
                bundle.addfile(info, io.BytesIO(member[1]))
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _project_files(prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}MLproject": SPEC.encode(), f"{prefix}hello.py": HELLO.encode()}


# --- unpacking: what must never happen ---------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "a\\..\\evil"])
def test_members_that_leave_the_folder_are_refused(tmp_path, name):
    root = tmp_path / "out"
    root.mkdir()
    for archive in (_zip(tmp_path / "a.zip", {name: b"x"}), _tar(tmp_path / "a.tar.gz", [(name, b"x")])):
        with pytest.raises(UnsafeSourceError, match="Refusing archive a"):
            unpack(archive, root, BIG, shown_as=archive.name)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("target", ["../outside", "/etc/passwd", "sub/../../outside"])
def test_links_that_point_outside_are_refused(tmp_path, target):
    (tmp_path / "outside").write_text("secret")
    for archive in (_zip(tmp_path / "a.zip", {"f": b""}, {"link": target}),
                    _tar(tmp_path / "a.tar.gz", [("f", b""), _link("link", target)])):
        root = tmp_path / archive.name.replace(".", "-")
        root.mkdir()
        with pytest.raises(UnsafeSourceError, match="outside the archive's folder"):
            unpack(archive, root, BIG, shown_as=archive.name)


def test_a_link_that_escapes_through_another_link_is_refused(tmp_path):
    # `up` points at the folder itself, so `up/../x` is outside although it reads as inside.
    archive = _tar(tmp_path / "a.tar.gz", [_link("up", "."), _link("sneaky", "up/../outside")])
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(UnsafeSourceError, match="link sneaky points to 'up/../outside', outside"):
        unpack(archive, root, BIG, shown_as="a.tar.gz")


def test_files_are_never_written_through_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for target in (str(outside), "../outside"):
        archive = _tar(tmp_path / "a.tar.gz", [_link("dir", target), ("dir/evil.txt", b"x")])
        root = tmp_path / "out"
        root.mkdir(exist_ok=True)
        with pytest.raises(UnsafeSourceError):
            unpack(archive, root, BIG, shown_as="a.tar.gz")
        assert list(outside.iterdir()) == []


def test_links_inside_are_kept_and_hard_links_become_copies(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [("data/x.txt", b"payload"), ("run.sh", b"#!/bin/sh\n"),
                                           _link("latest", "data/x.txt"),
                                           _link("copy.txt", "data/x.txt", tarfile.LNKTYPE)])
    root = tmp_path / "out"
    root.mkdir()
    unpack(archive, root, BIG, shown_as="a.tar.gz")
    assert os.readlink(root / "latest") == "data/x.txt" and (root / "latest").read_text() == "payload"
    assert (root / "copy.txt").read_text() == "payload" and not (root / "copy.txt").is_symlink()
    assert os.access(root / "run.sh", os.X_OK) and not os.access(root / "data" / "x.txt", os.X_OK)


def test_special_files_and_link_loops_are_refused(tmp_path):
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    for members, message in (([fifo], "special file"), ([_link("a", "b"), _link("b", "a")], "loop")):
        root = tmp_path / message.replace(" ", "-")
        root.mkdir()
        with pytest.raises(UnsafeSourceError, match=message):
            unpack(_tar(tmp_path / "a.tar.gz", members), root, BIG, shown_as="a.tar.gz")


def test_limits_on_bytes_and_members(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (2 << 20)})  # compresses to a few KB
    root = tmp_path / "a"
    root.mkdir()
    with pytest.raises(UnsafeSourceError, match="more than 1048576 bytes"):
        unpack(bomb, root, Limits(max_bytes=1 << 20, max_members=10), shown_as="bomb.zip")
    many = _tar(tmp_path / "many.tar.gz", [(f"f{i}", b"") for i in range(11)])
    root = tmp_path / "b"
    root.mkdir()
    with pytest.raises(UnsafeSourceError, match="more than 10 members"):
        unpack(many, root, Limits(max_bytes=1 << 20, max_members=10), shown_as="many.tar.gz")


def test_a_damaged_archive_is_a_source_error(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(SourceError, match="Cannot unpack archive broken.tar.gz"):
        unpack(broken, root, BIG, shown_as="broken.tar.gz")


# --- proj run ARCHIVE ----------------------------------------------------------------------------


def _unpacked_folders(home: Path) -> list[Path]:
    folder = home / "unpacked"
    return list(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("maker", [
    lambda p: _zip(p / "packed.zip", _project_files()),
    lambda p: _tar(p / "packed.tar.gz", list(_project_files().items())),
])
def test_a_local_archive_runs_and_records_its_hash(tmp_path, isolated_home, maker):
    archive = maker(tmp_path)
    done = run_proj("run", archive.name, cwd=tmp_path, check_exit=0)
    assert done.stdout == "hello from packed\n"
    record = show_run(run_id_of(done), tmp_path)
    assert record["source"]["kind"] == "archive" and record["source"]["uri"] == str(archive)
    assert record["source"]["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert record["run_name"] == "packed:main"
    assert _unpacked_folders(isolated_home) == []  # removed when the run ended


def test_a_subfolder_of_an_archive_and_a_file_url(tmp_path, isolated_home):
    archive = _zip(tmp_path / "repo.zip", _project_files("examples/one/"))
    done = run_proj("run", f"{archive.as_uri()}#examples/one", cwd=tmp_path, check_exit=0)
    assert done.stdout == "hello from one\n"
    assert show_run(run_id_of(done), tmp_path)["source"]["subdirectory"] == "examples/one"


@pytest.fixture
def http_folder(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    with serve_folder(folder) as base:
        yield folder, base


def test_an_archive_over_http(http_folder, tmp_path, isolated_home):
    folder, base = http_folder
    archive = _tar(folder / "model.tar.gz", list(_project_files("model/").items()))
    done = run_proj("run", f"{base}/model.tar.gz#model", cwd=tmp_path, check_exit=0)
    assert done.stdout == "hello from model\n"
    assert f"proj: downloading {base}/model.tar.gz" in done.stderr
    source = show_run(run_id_of(done), tmp_path)["source"]
    assert source["uri"] == f"{base}/model.tar.gz#model"
    assert source["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert _unpacked_folders(isolated_home) == []


def test_archive_failures_are_clear_and_leave_nothing(http_folder, tmp_path, isolated_home):
    folder, base = http_folder
    missing = run_proj("run", f"{base}/absent.zip", cwd=tmp_path, check_exit=SETUP)
    assert f"Cannot download archive {base}/absent.zip: the server answered 404" in missing.stderr
    _zip(folder / "big.zip", {"MLproject": SPEC.encode(), "pad": os.urandom(4096)})
    too_big = run_proj("run", f"{base}/big.zip", cwd=tmp_path, env={"PROJ_ARCHIVE_MAX_BYTES": "2000"}, check_exit=USAGE)
    assert "Refusing archive" in too_big.stderr and "PROJ_ARCHIVE_MAX_BYTES" in too_big.stderr
    evil = _zip(tmp_path / "evil.zip", {"../escaped.txt": b"x", **_project_files()})
    refused = run_proj("run", str(evil), cwd=tmp_path, check_exit=USAGE)
    assert "member '../escaped.txt' leads outside the archive's folder" in refused.stderr
    assert not (tmp_path / "escaped.txt").exists()
    versioned = run_proj("run", str(_zip(tmp_path / "ok.zip", _project_files())), "-v", "main", cwd=tmp_path,
                         check_exit=USAGE)
    assert "is an archive" in versioned.stderr
    assert _unpacked_folders(isolated_home) == []
    assert run_proj("runs", "list", cwd=tmp_path, check_exit=0).stdout.strip() == "no runs"


def test_a_dry_run_of_an_archive_removes_it_again(tmp_path, isolated_home):
    archive = _zip(tmp_path / "packed.zip", _project_files())
    done = run_proj("run", str(archive), "--dry-run", cwd=tmp_path, check_exit=0)
    assert "python3 hello.py" in done.stdout and _unpacked_folders(isolated_home) == []


def test_folders_left_by_a_dead_proj_are_reaped(tmp_path, isolated_home):
    stale = isolated_home / "unpacked" / f"0123456789ab-{os.uname().nodename}-999999999"
    (stale / "packed").mkdir(parents=True)
    archive = _zip(tmp_path / "packed.zip", _project_files())
    run_proj("run", str(archive), cwd=tmp_path, check_exit=0)
    assert not stale.exists()


def test_a_rerun_fetches_the_archive_again_and_checks_its_hash(tmp_path):
    archive = _zip(tmp_path / "packed.zip", _project_files())
    run_id = run_id_of(run_proj("run", str(archive), cwd=tmp_path, check_exit=0))
    again = run_proj("rerun", run_id, cwd=tmp_path, check_exit=0)
    assert again.stdout == "hello from packed\n"

    _zip(archive, {**_project_files(), "hello.py": b"print('changed')\n"})
    refused = run_proj("rerun", run_id, cwd=tmp_path, check_exit=SETUP)
    assert f"Cannot reproduce run {run_id} exactly" in refused.stderr and "is not the one recorded" in refused.stderr
    drifted = run_proj("rerun", run_id, "--allow-drift", cwd=tmp_path, check_exit=0)
    assert drifted.stdout == "changed\n"
    assert "the archive changed since the run" in show_run(run_id_of(drifted), tmp_path)["reproduction"]["drift"][0]
