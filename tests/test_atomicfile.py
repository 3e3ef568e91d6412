"""Atomic writes: readers see the old file or the new one, failures change nothing, writers never
collide."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from runner.atomicfile import atomic_output, write_atomically


def test_a_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "lock.txt"
    target.write_text("old")
    write_atomically(target, b"new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["lock.txt"]


def test_a_failure_while_writing_keeps_the_old_content_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "marker.json"
    target.write_text("whole")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_output(target) as handle:
            handle.write(b"half of it")
            raise RuntimeError("disk full")
    assert target.read_text() == "whole"
    assert os.listdir(tmp_path) == ["marker.json"]


def test_a_private_mode_applies_to_the_new_file(tmp_path: Path) -> None:
    target = tmp_path / "spooled.json"
    write_atomically(target, b"{}", mode=0o600, durable=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_default_mode_follows_the_umask_like_any_new_file(tmp_path: Path) -> None:
    plain, atomic = tmp_path / "plain", tmp_path / "atomic"
    plain.write_bytes(b"x")
    write_atomically(atomic, b"x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_concurrent_writers_each_leave_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    payloads = [bytes([65 + n]) * 200_000 for n in range(8)]
    seen: list[bytes] = []

    def write(data: bytes) -> None:
        for _ in range(5):
            write_atomically(target, data)
            seen.append(target.read_bytes())

    threads = [threading.Thread(target=write, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(content in payloads for content in seen)
    assert os.listdir(tmp_path) == ["shared"]
