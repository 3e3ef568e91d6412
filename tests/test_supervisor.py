"""proj's process supervisor (runner/supervisor.py, runner/supervision.py) with real processes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.processes import alive, wait_for, wait_for_file
from runner import supervisor
from runner.errors import BackendError
from runner.process import run_command


def run(argv: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    log = tmp_path / "log"
    with open(log, "wb") as handle:
        result = run_command(argv, cwd=tmp_path, env={**os.environ, **(env or {})}, log=handle,
                             terminal=io.BytesIO())
    return result.exit_code, log.read_bytes()


def test_values_that_are_not_utf8_and_large_environments_arrive_byte_for_byte(tmp_path):
    odd = os.fsdecode(b"caf\xe9 \xff")  # how Python holds bytes that are not UTF-8
    big = {f"BIG{n}": "x" * 100_000 for n in range(10)}  # 1 MB in all (one value may hold 128 KiB)
    code, output = run(["bash", "-c", 'printf "%s|%s|%s" "$ODD" "${#BIG9}" "$1"', "bash", odd], tmp_path,
                       {"ODD": odd, **big})
    assert (code, output) == (0, b"caf\xe9 \xff|100000|caf\xe9 \xff")


def test_a_nul_byte_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(BackendError, match="NUL byte"):
        run(["bash", "-c", "touch started"], tmp_path, {"BAD": "a\0b"})
    assert not (tmp_path / "started").exists()


def test_a_command_that_cannot_start_says_why(tmp_path):
    with pytest.raises(BackendError, match="cannot run no-such-program-here: No such file"):
        run(["no-such-program-here"], tmp_path)
    with pytest.raises(BackendError, match="cannot run bash: Argument list too long"):
        run(["bash", "-c", "true", "x" * 200_000], tmp_path)
    with pytest.raises(BackendError, match=f"cannot enter {tmp_path / 'gone'}: No such file"):
        run_command(["true"], cwd=tmp_path / "gone", env=dict(os.environ), log=io.BytesIO(), terminal=io.BytesIO())


def test_signals_and_exit_codes_come_back_as_a_shell_reports_them(tmp_path):
    assert run(["bash", "-c", "exit 7"], tmp_path)[0] == 7
    assert run(["bash", "-c", "kill -TERM $$"], tmp_path)[0] == 128 + signal.SIGTERM


def test_a_supervisor_that_died_is_replaced(tmp_path):
    supervisor.start()
    current = supervisor._current
    assert current is not None
    os.kill(current.pid, signal.SIGKILL)
    wait_for(lambda: not alive(current.pid), 10, what="the supervisor to die")
    assert run(["bash", "-c", "echo again"], tmp_path) == (0, b"again\n")
    assert supervisor._current is not current and alive(supervisor._current.pid)


# The tool writes its pid as soon as it starts, which may be before proj has told the supervisor
# about it (runner.process.run_tool documents that moment); "watched" is written once it has.
TOOL_IN_A_THREAD = """
import threading
from pathlib import Path
from runner import supervisor
from runner.process import run_tool
watch = supervisor.watch_group
def watch_and_say(pgid):
    watch(pgid)
    Path("watched").write_text(str(pgid))
supervisor.watch_group = watch_and_say
threading.Thread(target=run_tool, args=(["bash", "-c", "echo $$ > tool.pid; exec sleep 300"],)).start()
threading.Event().wait()
"""


def test_a_tool_started_from_a_thread_ends_when_proj_is_killed(tmp_path):
    proj = subprocess.Popen([sys.executable, "-c", TOOL_IN_A_THREAD], cwd=tmp_path)
    try:
        tool = int(wait_for_file(tmp_path / "tool.pid"))
        assert int(wait_for_file(tmp_path / "watched")) == tool  # its own group, as run_tool starts it
        assert alive(tool)
    finally:
        proj.kill()
        proj.wait()
    wait_for(lambda: not alive(tool), 10, what="the supervisor to kill the tool's process group")
