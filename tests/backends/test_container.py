"""The container runner's output copying (the runs themselves: tests/environments/test_docker.py)."""

from __future__ import annotations

import io
import threading

from runner.backends.container import _copy_output


class FullDisk(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise OSError(28, "No space left on device")


def test_a_log_that_cannot_be_written_stops_the_log_but_not_the_output():
    terminal, errors, ended = io.BytesIO(), [], threading.Event()
    _copy_output(iter([b"first\n", b"second\n"]), terminal, FullDisk(), errors, ended)
    assert terminal.getvalue() == b"first\nsecond\n"
    assert errors == ["No space left on device"] and ended.is_set()


def test_a_closed_terminal_does_not_stop_the_log():
    terminal, log, errors, ended = io.BytesIO(), io.BytesIO(), [], threading.Event()
    terminal.close()
    _copy_output(iter([b"kept\n"]), terminal, log, errors, ended)
    assert log.getvalue() == b"kept\n" and errors == [] and ended.is_set()
