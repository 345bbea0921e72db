"""What the client tests run against: a real gunicorn on a fresh database of each backend,
and a TCP proxy in front of it that can lose answers or stand in for an unavailable
service."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from tests.conftest import TEST_SECRET_KEY
from tests.databases import FreshDatabase
from tests.live_server import LiveServer, free_port

# Loopback webhook targets allowed: the webhook walk subscribes one on this machine.
TOKEN_MODE = {
    "AUTH_MODE": "token",
    "SECRET_KEY": TEST_SECRET_KEY,
    "WEBHOOK_ALLOW_LOOPBACK": "true",
}
_PROBLEM = (
    b'{"type": "about:blank", "title": "Service Unavailable", "status": 503, '
    b'"detail": "Down for a moment, try again."}'
)
UNAVAILABLE = (
    b"HTTP/1.1 503 SERVICE UNAVAILABLE\r\nContent-Type: application/problem+json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_PROBLEM), _PROBLEM)
)


@dataclass
class Service:
    """A gunicorn on a fresh migrated database; ``restart`` brings it back on the same port."""

    fresh: FreshDatabase
    folder: Path
    env: dict[str, str]
    live: LiveServer = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self, port: int | None = None) -> None:
        self.live = LiveServer(self.fresh.url, workers=2, log_path=self.folder / "gunicorn.log",
                               extra_env=self.env, port=port)  # fmt: skip

    def restart(self) -> None:
        self.live.stop()
        self.start(self.live.port)

    @property
    def url(self) -> str:
        return self.live.base_url

    def token(self, principal: str, *roles: str) -> str:
        engine = make_engine(Settings(database_url=self.fresh.url))
        try:
            return tokens.create_token(
                Database(engine), principal=principal, roles=list(roles), created_by="test"
            ).token
        finally:
            engine.dispose()

    def rows(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_engine(self.fresh.url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def stop(self) -> None:
        self.live.stop()
        self.fresh.drop()


class Proxy:
    """Forwards TCP connections to ``target_port``. ``plan`` holds what to do with the next
    connections, one entry each: "lose" forwards the request and waits for the service's
    whole answer (so the write is committed), then closes the client's connection without
    it; "unavailable" answers 503 itself. Once the plan is used up, it forwards."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self.plan: list[str] = []
        self.handled: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            action = self.plan.pop(0) if self.plan else "forward"
            self.handled.append(action)
            threading.Thread(target=self._serve, args=(client, action), daemon=True).start()

    def _serve(self, client: socket.socket, action: str) -> None:
        with client:
            if action == "unavailable":
                _read_message(client)
                client.sendall(UNAVAILABLE)
                return
            with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                if action == "lose":
                    _lose_answer(client, upstream)
                else:
                    _pipe_both_ways(client, upstream)


def _lose_answer(client: socket.socket, upstream: socket.socket) -> None:
    """One request through, its whole answer read and dropped: the client sees its
    connection closed after the service has answered."""
    upstream.sendall(_read_message(client))
    _read_message(upstream)
    client.shutdown(socket.SHUT_RDWR)


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP message with a Content-Length body (or none), read whole."""
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _message_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _message_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


def _pipe_both_ways(client: socket.socket, upstream: socket.socket) -> None:
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (sink, source):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join(timeout=30)
