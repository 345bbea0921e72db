"""One deadline for a whole webhook attempt (SPEC §9): connect, send, the answer's headers.

httpx's timeouts bound each socket operation, not the exchange: a receiver that answers
one byte every second, each within the read timeout, holds the attempt as long as it likes,
past the claim's lease, so that a second worker sends the same delivery meanwhile
(docs/performance.md, "Figures behind the code"). A watchdog timer enforces the total instead: the
attempt's socket is shut down when its deadline passes, which ends any read or write in
flight at once. The socket is found through httpcore's ``trace`` request extension
(``connection.connect_tcp.complete`` hands over the network stream); the worker's client
keeps no connection alive between attempts, so every attempt opens the socket it is
traced by.

Checked against httpx 0.28 to 0.29 and httpcore 1.0 (the trace event names are httpcore's).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx

CONNECTED = "connection.connect_tcp.complete"


class AttemptDeadline:
    """``with AttemptDeadline(seconds) as deadline:`` around one attempt; pass
    ``deadline.timeout()`` and ``deadline.extensions`` to the request."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []  # duplicates, ours to close
        self._passed = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @property
    def passed(self) -> bool:
        with self._lock:
            return self._passed

    def remaining(self) -> float:
        return max(self._ends - time.monotonic(), 0.0)

    def timeout(self) -> httpx.Timeout:
        """What is left, as the bound of each socket operation too (a connect that hangs
        before there is a socket to shut down is bounded by it)."""
        return httpx.Timeout(self.remaining())

    @property
    def extensions(self) -> dict[str, Any]:
        return {"trace": self._trace}

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event != CONNECTED:
            return
        # A duplicate refers to the same connection and outlives the stream's own socket
        # object (TLS detaches that one when it wraps the connection).
        watched = info["return_value"].get_extra_info("socket").dup()
        with self._lock:
            self._sockets.append(watched)
            passed = self._passed
        if passed:
            _shut(watched)

    def _expire(self) -> None:
        with self._lock:
            self._passed = True
            watched = list(self._sockets)
        for sock in watched:
            _shut(sock)

    def __enter__(self) -> AttemptDeadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        with self._lock:
            watched, self._sockets = self._sockets, []
        for sock in watched:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed meanwhile: nothing left to end
        sock.shutdown(socket.SHUT_RDWR)
