"""Stop signals (SIGINT, SIGTERM, SIGHUP): caught once per process, heard by every waiter.

Whatever proj waits for (a command, a container, a scheduler's jobs) is stopped the same way:
the first stop signal is forwarded, and if the thing has not ended `grace_seconds` later, or a
second signal comes, it is killed. `StopSignals` is that rule, written once.

Threads. Python runs signal handlers in the main thread, and only the main thread may install
them. So a handler is installed while at least one scope is open *in the main thread* (the
handlers before it are put back when the last one closes), and it hands each signal to every
open scope, in whatever thread it was opened. A scope reacts in its own thread, when its owner
calls `poll()` from the loop it waits in: nothing is done to a process or a daemon inside a
signal handler. A scope opened in a worker thread hears signals only while a main-thread scope
is open: code that runs commands from a thread pool (`proj run --sweep -j N`) opens one around
the pool. And a scope opened after such a main-thread scope has heard a signal starts out stopped,
so that a point about to start when Ctrl-C came does not start at all.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How long what proj stops may take to end after the forwarded signal, before it is killed.
DEFAULT_GRACE_SECONDS = float(os.environ.get("PROJ_STOP_GRACE_SECONDS", "10"))

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class StopSignals:
    """A scope in which stop signals are recorded instead of ending proj."""

    def __init__(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        self.received: int | None = None  # the first stop signal heard
        self.repeated = False  # a second one came: stop waiting
        self._unforwarded: int | None = None
        self._kill_at: float | None = None
        self._killed = False
        self._in_main_thread = False

    def __enter__(self) -> StopSignals:
        self._in_main_thread = threading.current_thread() is threading.main_thread()
        _registry.open(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        _registry.close(self)

    def hear(self, signum: int) -> None:
        """Record a stop signal (called by the handler, in the main thread; never blocks)."""
        if self.received is None:
            self.received = self._unforwarded = signum
            self._kill_at = time.monotonic() + self.grace_seconds
        else:
            self.repeated = True

    def poll(self, forward: Callable[[int], None] | None = None, kill: Callable[[], None] | None = None) -> None:
        """In the waiting thread: `forward` a new stop signal to what is being waited for, and
        `kill` it once the grace period is over or a second signal came (each at most once)."""
        signum = self._unforwarded
        if signum is not None:
            self._unforwarded = None
            if forward is not None:
                forward(signum)
        due = self.repeated or (self._kill_at is not None and time.monotonic() >= self._kill_at)
        if due and not self._killed and kill is not None:
            self._killed = True
            kill()


class _Registry:
    """The open scopes, and the handlers installed for them."""

    def __init__(self) -> None:
        self.scopes: set[StopSignals] = set()
        self.main_scopes = 0
        self.previous: dict[int, Handler] = {}
        self.heard: int | None = None  # the first signal since the outermost main-thread scope opened

    def open(self, scope: StopSignals) -> None:
        if scope._in_main_thread:
            if self.main_scopes == 0:
                self.heard = None
                self.previous = {sig: signal.signal(sig, self.dispatch) for sig in STOP_SIGNALS}
            self.main_scopes += 1
        self.scopes.add(scope)
        heard = self.heard
        if heard is not None and scope.received is None:
            scope.hear(heard)  # the signal came while this scope's thread was getting ready

    def close(self, scope: StopSignals) -> None:
        self.scopes.discard(scope)
        if scope._in_main_thread:
            self.main_scopes -= 1
            if self.main_scopes == 0:
                for sig, handler in self.previous.items():
                    signal.signal(sig, handler)
                self.previous = {}

    def dispatch(self, signum: int, _frame: FrameType | None) -> None:
        if self.heard is None:
            self.heard = signum
        for scope in tuple(self.scopes):  # a copy: worker threads open and close scopes meanwhile
            scope.hear(signum)


_registry = _Registry()
