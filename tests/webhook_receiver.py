"""A webhook receiver on loopback for tests: a threaded ``http.server`` that records every
request and answers as it is told (a status, after an optional sleep, optionally dripped
byte by byte)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Answer(NamedTuple):
    status: int = 200
    sleep_s: float = 0.0
    # > 0: the status line and headers are written one byte at a time, this long apart
    # (each pause shorter than a read timeout, the whole answer far longer).
    drip_s: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        # Answer(status, sleep_s, drip_s) or (status, sleep_s), used up in order.
        self.answers: list[tuple[int, float] | Answer] = []
        self.default: tuple[int, float] | Answer = Answer()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = Answer(
                        *(receiver.answers.pop(0) if receiver.answers else receiver.default)
                    )
                receiver.arrived.set()
                time.sleep(answer.sleep_s)
                try:
                    if answer.drip_s:
                        self._drip(answer)
                    else:
                        self.send_response(answer.status)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) or died

            def _drip(self, answer: Answer) -> None:
                head = f"HTTP/1.1 {answer.status} OK\r\nContent-Length: 0\r\n\r\n".encode()
                for index in range(len(head)):
                    self.wfile.write(head[index : index + 1])
                    self.wfile.flush()
                    time.sleep(answer.drip_s)
                self.close_connection = True

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, per test.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers["webhook-id"] for r in self.received]

    def wait_for(self, count: int, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} requests arrived, not {count}")
            time.sleep(0.02)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
