"""A real store filled by real `proj run`s, and a real `proj ui` serving it, for the ui tests.

Both are made once per session: the runs take a few seconds and nothing in these tests writes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import DATA, require, run_proj
from helpers.gitrepo import GitRepo
from helpers.processes import wait_for

XSS_NOTE = "<script>alert(1)</script>"
LOCKED_PROJECT = {
    "MLproject": ("name: locked\npython_env: python_env.yaml\n"
                  "entry_points:\n  main:\n    command: python -c \"print('locked')\"\n"),
    "python_env.yaml": f'python: "{sys.version_info.major}.{sys.version_info.minor}"\ndependencies: []\n',
}


@dataclass
class UiStore:
    root: Path  # the tracking store
    project: Path  # a git checkout of tests/data/ui-runs
    env: dict[str, str]  # PROJ_HOME and PROJ_TRACKING_URI for proj commands on this store
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id

    def proj(self, *args: str, check_exit: int | None = 0, cwd: Path | None = None):
        return run_proj(*args, cwd=cwd or self.project, env=self.env, check_exit=check_exit)

    def run(self, name: str, *args: str, cwd: Path | None = None) -> str:
        result = self.proj("run", ".", "--run-name", name, *args, cwd=cwd)
        self.runs[name] = started_run_id(result.stderr)
        return self.runs[name]


def started_run_id(stderr: str) -> str:
    return re.search(r"run ([0-9a-f]{32}) started", stderr).group(1)


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory) -> UiStore:
    """Five runs in two experiments: two that differ by a parameter, one whose note parameter is a
    script tag (from a dirty checkout, so it keeps a diff), one with symlinks among its outputs,
    and one in a uv environment, which keeps a lock."""
    require("git", shutil.which("git") is not None, "the git executable is not on PATH")
    base = tmp_path_factory.mktemp("ui-store")
    store = UiStore(base / "store", base / "project",
                    {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    files = {p.name: p.read_text() for p in (DATA / "ui-runs").iterdir()}
    repo = GitRepo.create(store.project, files, message="ui demo project")
    store.run("baseline", "-P", "lr=0.1", "--experiment-name", "alpha")
    store.run("faster", "-P", "lr=0.2", "--experiment-name", "alpha")
    store.run("links", "-e", "links", "--experiment-name", "alpha")
    repo.write({"README.md": files["README.md"] + "An uncommitted line.\n"})
    store.run("xss-probe", "-P", "lr=0.3", "-P", f"note={XSS_NOTE}", "--experiment-name", "beta")
    locked = base / "locked"
    locked.mkdir()
    for name, text in LOCKED_PROJECT.items():
        (locked / name).write_text(text)
    store.run("locked", "--experiment-name", "gamma", cwd=locked)
    return store


SWEEP_LRS = ("0.001", "0.003", "0.01", "0.03", "0.1")
SWEEP_OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass
class SweepStore(UiStore):
    sweep_id: str = ""
    points: list[dict] = field(default_factory=list)  # the sweep's runs as `proj runs list --format json` prints them


@pytest.fixture(scope="session")
def sweep_store(tmp_path_factory) -> SweepStore:
    """A store of its own: a real 15-point sweep of tests/data/ui-sweep (5 learning rates x 3
    optimizers, 4 at a time), and one run that writes an artifact of every kind the UI previews."""
    base = tmp_path_factory.mktemp("sweep-store")
    project = base / "project"
    shutil.copytree(DATA / "ui-sweep", project)
    store = SweepStore(base / "store", project,
                       {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    store.proj("run", ".", "--experiment-name", "tuning", "--sweep", "lr=" + ",".join(SWEEP_LRS),
               "--sweep", "optimizer=" + ",".join(SWEEP_OPTIMIZERS), "-j", "4")
    store.run("previews", "-e", "previews", "--experiment-name", "files")
    listed = json.loads(store.proj("runs", "list", "--format", "json", "--limit", "100").stdout)
    store.points = [r for r in listed if r["sweep_id"]]
    store.sweep_id = store.points[0]["sweep_id"]
    assert len(store.points) == 15 and {r["sweep_id"] for r in store.points} == {store.sweep_id}
    return store


class UiServer:
    """`proj ui` as a user starts it: a subprocess on a free 127.0.0.1 port (--port 0)."""

    def __init__(self, store: UiStore, log: Path) -> None:
        self.log = log
        self.stderr = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--port", "0"], cwd=store.project,
                                        env={**os.environ, **store.env}, stdout=self.stderr, stderr=self.stderr)
        self.url = wait_for(self._announced_url, timeout=30, what=f"proj ui to print its address in {log}")

    def _announced_url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"proj ui exited {self.process.returncode}:\n{self.log.read_text()}")
        found = re.search(r"http://127\.0\.0\.1:\d+/", self.log.read_text())
        return found.group(0).rstrip("/") if found else None

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.stderr.close()


@dataclass
class WaitingRun:
    project: Path  # the run waits for `release` there, then for `finish`
    run_id: str
    process: subprocess.Popen  # the `proj run` launcher
    server: UiServer  # a `proj ui` of the run's own store


@contextmanager
def waiting_run(ui_store: UiStore, tmp_path: Path) -> Iterator[WaitingRun]:
    """A run of the `wait` entry point in a store of its own, served by a `proj ui` of its own; the
    launcher is killed if the test leaves it running, and the server must stop cleanly."""
    project = tmp_path / "project"
    shutil.copytree(ui_store.project, project, ignore=shutil.ignore_patterns(".git"))
    store = UiStore(tmp_path / "store", project, {**ui_store.env, "PROJ_TRACKING_URI": str(tmp_path / "store")})
    launcher_log = tmp_path / "run.log"
    with launcher_log.open("w") as output:
        running = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "wait"], cwd=project,
                                   env={**os.environ, **store.env}, stdout=output, stderr=output)
    server = UiServer(store, tmp_path / "proj-ui.log")
    try:
        run_id = wait_for(lambda: " started " in launcher_log.read_text() and started_run_id(launcher_log.read_text()),
                          what="the run to start")
        yield WaitingRun(project, run_id, running, server)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
        assert server.stop() == 0


@pytest.fixture(scope="session")
def ui_server(ui_store, tmp_path_factory):
    server = UiServer(ui_store, tmp_path_factory.mktemp("ui-server") / "proj-ui.log")
    yield server
    assert server.stop() == 0, server.log.read_text()


# --- a real browser: Debian's chromium driven by Playwright --------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A chromium with a fresh profile; Playwright never downloads a browser of its own here."""
    require("browser", CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None,
            f"needs Debian's chromium at {CHROMIUM} and the playwright package")
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    playwright_expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=LAUNCH_ARGS, viewport={"width": 1440, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


def expect(locator):
    """Playwright's retrying assertions (imported here: without playwright these tests skip)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


class Tab:
    """A page that records every dialog (alert, confirm) and script error it sees."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def tab(browser):
    opened = Tab(browser)
    yield opened
    opened.page.close()
    assert opened.dialogs == [], "a recorded value ran as script"
    assert opened.errors == []


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PROJ_TEST_ARTIFACTS") or tmp_path_factory.mktemp("ui-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
