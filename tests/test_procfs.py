"""runner.procfs: the one reading of /proc, with real processes."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers.processes import wait_for
from runner.host import hostname
from runner.procfs import descendants, process_alive, read_stat, same_process_alive, start_ticks
from runner.tracking.base import launcher_alive, launcher_token


def test_a_running_process_is_alive_and_its_stat_is_parsed():
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        stat = read_stat(child.pid)
        assert stat is not None and stat.ppid == os.getpid() and stat.pgid == child.pid == stat.session
        assert process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid) and read_stat(child.pid) is None


def test_a_zombie_is_not_alive_for_any_caller():
    child = subprocess.Popen(["true"])
    token = launcher_token(child.pid)
    wait_for(lambda: read_stat(child.pid).is_zombie, what="the child to exit")
    try:
        assert read_stat(child.pid) is not None  # not yet collected: the pid is still taken
        assert not process_alive(child.pid)
        assert launcher_alive(token, hostname()) is False  # a run whose launcher is a zombie is lost
    finally:
        child.wait()


def test_a_reused_pid_is_not_the_process_that_had_it():
    ticks = start_ticks(os.getpid())
    assert ticks is not None
    assert same_process_alive(os.getpid(), ticks)
    assert not same_process_alive(os.getpid(), ticks + 1)
    assert launcher_alive(f"{os.getpid()}:{ticks + 1}", hostname()) is False
    assert launcher_alive(f"{os.getpid()}:{ticks}", "another-host") is None
    assert launcher_alive("garbage", hostname()) is None


def test_descendants_include_grandchildren_whatever_their_session():
    script = "import os, subprocess, sys, time\n" \
             "g = subprocess.Popen(['sleep', '30'], start_new_session=True)\n" \
             "print(g.pid, flush=True)\n" \
             "time.sleep(30)\n"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        found = {stat.pid for stat in descendants(os.getpid())}
        assert {child.pid, grandchild} <= found
        assert [s.pid for s in descendants(child.pid)] == [grandchild]
    finally:
        child.kill()
        child.wait()
        os.kill(grandchild, 9)
