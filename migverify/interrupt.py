"""SIGINT and SIGTERM: an interrupted run must never end in a verdict.

The handlers raise `Interrupted`, a KeyboardInterrupt: hypothesis treats SystemExit as a test
failure (and, failing to replay it, as a flaky example that is then ignored), but it re-raises a
KeyboardInterrupt, and psycopg cancels the running query on one. A signal can still arrive while
Python runs a garbage-collector callback or a `__del__`, where an exception is printed and
dropped; so the exception is raised again every half second (SIGALRM) until the run stops, and
every signal is recorded for the CLI, which asks `raise_if_interrupted()` before it renders any
verdict. Signal handlers are process-wide by nature: so is this record.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
REPEAT = 0.5  # seconds between raises of a signal's exception until the run stops
_received: list[int] = []  # signals received by this process, in order


class Interrupted(KeyboardInterrupt):
    """Raised by the signal handlers; the CLI exits 128 + the signal number (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


def _raise(signum: int, frame: object) -> None:
    _received.append(signum)
    _arm()
    raise Interrupted(signum)


def _again(signum: int, frame: object) -> None:
    """SIGALRM after a signal: raise its exception again, in case the first one was dropped."""
    if _received:
        _arm()
        raise Interrupted(_received[0])


def _record(signum: int, frame: object) -> None:
    if signum in SIGNALS:
        _received.append(signum)


def _arm() -> None:
    signal.signal(signal.SIGALRM, _again)
    signal.setitimer(signal.ITIMER_REAL, REPEAT)


def disarm() -> None:
    """Stop raising again: the interruption has been handled."""
    if _in_main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


def interrupted() -> int | None:
    """The first signal received since the handlers were installed, if any."""
    return _received[0] if _received else None


def raise_if_interrupted() -> None:
    """Raise `Interrupted` if a signal arrived, even if something swallowed its exception."""
    signum = interrupted()
    if signum is not None:
        raise Interrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install(handler: Callable[[int, Any], None], signals: tuple[int, ...]) -> dict[int, Any]:
    previous = {}
    for signum in signals:
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextmanager
def handling_interrupts(signals: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """SIGNALS raise `Interrupted` inside the block (main thread only)."""
    if not _in_main_thread():
        yield
        return
    _received.clear()
    previous = _install(_raise, signals)
    previous[signal.SIGALRM] = signal.getsignal(signal.SIGALRM)
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_when_interrupted(hook)
    try:
        yield
    finally:
        disarm()
        _restore(previous)
        sys.unraisablehook = hook


def _quiet_when_interrupted(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """An Interrupted dropped in a gc callback or `__del__` is raised again: no traceback."""

    def unraisable(info: Any) -> object:
        if isinstance(info.exc_value, Interrupted):
            return None
        return hook(info)

    return unraisable


@contextmanager
def deferred() -> Iterator[None]:
    """Signals only recorded inside the block: cleanup (dropping databases, stopping the
    server) must not be cut short by a second Ctrl-C. A signal recorded here is raised soon
    after the block when no exception is on its way out already."""
    if not _in_main_thread():
        yield
        return
    managed = tuple(s for s in SIGNALS if signal.getsignal(s) is _raise)
    if not managed:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    previous = _install(_record, (*managed, signal.SIGALRM))
    try:
        yield
    except BaseException:
        _restore(previous)
        raise
    _restore(previous)
    if _received:
        _arm()


def managed() -> bool:
    """Whether the current handlers are migverify's (so a Sandbox need not install its own)."""
    return signal.getsignal(signal.SIGTERM) in (_raise, _record)
