"""Host facts read without costly imports (runner/host.py) answer as the standard library does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runner.host import program_on_path


def test_program_on_path_finds_what_shutil_which_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_executable, folder_named, executable = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for path in (not_executable, folder_named, executable):
        path.mkdir()
    (not_executable / "tool").write_text("#!/bin/sh\n")
    (folder_named / "tool").mkdir()
    (executable / "tool").write_text("#!/bin/sh\n")
    (executable / "tool").chmod(0o755)
    searched = os.pathsep.join(str(p) for p in (not_executable, folder_named, executable, executable))
    for path in (searched, "", f"{os.defpath}{os.pathsep}{searched}", str(not_executable)):
        monkeypatch.setenv("PATH", path)
        for name in ("tool", "sh", "absent", str(executable / "tool"), str(not_executable / "tool")):
            assert program_on_path(name) == shutil.which(name), (path, name)
    monkeypatch.delenv("PATH")
    assert program_on_path("sh") == shutil.which("sh")
    monkeypatch.setenv("PATH", searched)
    assert program_on_path("tool") == str(executable / "tool")
