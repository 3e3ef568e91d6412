"""runner.stopping: one rule for stop signals, in the main thread and in worker threads.

The scenarios that send real signals run in a child interpreter, so that a mistake cannot
interrupt the test run itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers.processes import alive
from runner.stopping import StopSignals


def run_scenario(code: str, tmp_path, timeout: float = 60) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line of facts, the last line."""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PROJ_STOP_GRACE_SECONDS": "30"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_first_signal_is_forwarded_once_and_a_second_kills():
    actions: list[object] = []
    with StopSignals(grace_seconds=30) as stop:
        stop.poll(actions.append, lambda: actions.append("kill"))
        assert actions == [] and stop.received is None
        os.kill(os.getpid(), signal.SIGTERM)  # caught by the scope: the test run goes on
        stop.poll(actions.append, lambda: actions.append("kill"))
        stop.poll(actions.append, lambda: actions.append("kill"))
        assert actions == [signal.SIGTERM]  # forwarded once, not killed within the grace period
        os.kill(os.getpid(), signal.SIGINT)
        stop.poll(actions.append, lambda: actions.append("kill"))
        stop.poll(actions.append, lambda: actions.append("kill"))
    assert actions == [signal.SIGTERM, "kill"] and stop.received == signal.SIGTERM and stop.repeated


def test_the_grace_period_ends_in_a_kill():
    actions: list[object] = []
    with StopSignals(grace_seconds=0.1) as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        stop.poll(actions.append, lambda: actions.append("kill"))
        time.sleep(0.15)
        stop.poll(actions.append, lambda: actions.append("kill"))
    assert actions == [signal.SIGHUP, "kill"]


def test_handlers_are_installed_by_the_outermost_main_thread_scope_and_restored():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with StopSignals() as outer:
        installed = signal.getsignal(signal.SIGINT)
        assert installed is not before[signal.SIGINT]
        with StopSignals() as inner:
            assert signal.getsignal(signal.SIGINT) is installed
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.received == outer.received == signal.SIGINT  # every open scope hears it
        assert signal.getsignal(signal.SIGINT) is installed
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_worker_scope_hears_signals_while_a_main_thread_scope_is_open():
    heard: dict[str, object] = {}
    ready, sent = threading.Event(), threading.Event()

    def worker() -> None:
        with StopSignals() as stop:
            ready.set()
            sent.wait(10)
            deadline = time.monotonic() + 5
            while stop.received is None and time.monotonic() < deadline:
                time.sleep(0.01)
            heard["signal"] = stop.received
        # Opened after the signal: starts out stopped (a sweep point about to start does not).
        with StopSignals() as late:
            heard["late"] = late.received

    with StopSignals() as main_scope:
        thread = threading.Thread(target=worker)
        thread.start()
        ready.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)
        sent.set()
        thread.join(10)
    assert heard == {"signal": signal.SIGTERM, "late": signal.SIGTERM} and main_scope.received == signal.SIGTERM


def test_a_worker_thread_scope_alone_installs_nothing():
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def worker() -> None:
        with StopSignals():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == [before]


WORKER_COMMAND = """
import io, json, os, signal, sys, threading, time
from pathlib import Path
from runner.process import run_command
from runner.stopping import StopSignals

result = {}
def worker():
    with open("run.log", "wb") as log:
        result["r"] = run_command(["bash", "-c", "echo $$ > pid; echo started; sleep 60; echo not-stopped"],
                                  cwd=Path("."), env=dict(os.environ), log=log, terminal=io.BytesIO())

with StopSignals() as stop:  # what a sweep does around its pool of worker threads
    thread = threading.Thread(target=worker)
    thread.start()
    while not (os.path.exists("pid") and open("pid").read().strip()):
        time.sleep(0.01)
    started = time.monotonic()
    os.kill(os.getpid(), signal.SIGTERM)
    thread.join(30)
r = result["r"]
print(json.dumps({"exit_code": r.exit_code, "interrupted_by": r.interrupted_by, "seconds": time.monotonic() - started,
                  "pid": int(open("pid").read()), "log": open("run.log").read(),
                  "handler_restored": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL}))
"""


def test_a_command_run_from_a_worker_thread_is_stopped_by_a_signal_to_proj(tmp_path):
    facts = run_scenario(WORKER_COMMAND, tmp_path)
    assert (facts["exit_code"], facts["interrupted_by"]) == (128 + signal.SIGTERM, signal.SIGTERM)
    assert facts["seconds"] < 10  # forwarded at once, not killed after the 30 s grace period
    assert facts["log"] == "started\n" and not alive(facts["pid"])
    assert facts["handler_restored"]


@pytest.mark.parametrize("threads", [1, 3])
def test_commands_started_from_threads_run_and_report_their_codes(tmp_path, threads):
    code = f"""
import io, json, os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from runner.process import run_command

def one(n):
    with open(f"log-{{n}}", "wb") as log:
        return run_command(["bash", "-c", f"echo point {{n}}; exit {{n}}"], cwd=Path("."), env=dict(os.environ),
                           log=log, terminal=io.BytesIO()).exit_code

with ThreadPoolExecutor({threads}) as pool:
    codes = list(pool.map(one, range(6)))
print(json.dumps({{"codes": codes, "logs": [open(f"log-{{n}}").read() for n in range(6)]}}))
"""
    facts = run_scenario(code, tmp_path)
    assert facts == {"codes": list(range(6)), "logs": [f"point {n}\n" for n in range(6)]}
