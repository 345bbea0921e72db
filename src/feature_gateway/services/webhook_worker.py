"""The webhook delivery worker (SPEC §9): a separate process, never a gunicorn worker, so a
slow receiver never slows the API.

One attempt at a time per worker: claim one due delivery (a short write transaction that
moves its ``next_attempt_time`` past the attempt's lease), check where its URL resolves to,
POST the signed event within one deadline shorter than the lease, record the outcome under
the claim (a second short transaction). Whatever goes wrong in one attempt (its URL, its
receiver, the resolver) is that attempt's failure, recorded and retried: it never ends the
worker (SPEC §9).
Several workers may run against one database: each claim is one worker's (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), and a killed worker's claim expires
with its lease, after which another worker retries (delivery is at least once).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from prometheus_client import Counter

from feature_gateway import __version__
from feature_gateway.config import Settings
from feature_gateway.db.scopes import Database
from feature_gateway.db.webhooks import MAX_ERROR_LENGTH, Claimed
from feature_gateway.domain.events import event_id, event_type
from feature_gateway.domain.webhook_targets import (
    Target,
    TargetRefusedError,
    check_addresses,
    ip_literal,
    parse_target,
)
from feature_gateway.domain.webhooks import GONE, DeliveryState, retry_delay_s, signature
from feature_gateway.errors import DatabaseUnavailableError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.events import event_data
from feature_gateway.services.webhook_deadline import AttemptDeadline

log = logging.getLogger("feature_gateway.webhooks")

ATTEMPTS = Counter(
    "feature_gateway_webhook_attempts_total",
    "Delivery attempts made by this worker, by outcome (delivered, retry, failed, gone).",
    ["outcome"],
)
USER_AGENT = f"feature-gateway-webhooks/{__version__}"
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the client may connect to any of them)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.database, self.settings, self.resolver = database, settings, resolver
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            follow_redirects=False,  # a redirect is an answer, not a 2xx: a failed attempt
            trust_env=False,  # no proxy from the environment between us and the check
            headers={"User-Agent": USER_AGENT},
            # A fresh connection per attempt: the deadline finds the socket it must be
            # able to shut down when that connection is made (webhook_deadline).
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.stopping = threading.Event()

    def run(self, *, once: bool = False) -> int:
        """Deliver until ``stop()`` (SIGTERM), or with ``once`` until nothing that was due
        at the start is left; returns how many attempts were made. An attempt in flight
        when stop is asked for is finished and recorded first."""
        started = now_ms()
        attempts = 0
        while not self.stopping.is_set():
            try:
                claimed = self.claim(due_by=started if once else now_ms())
                if claimed is not None:
                    self.attempt(claimed)
                    attempts += 1
                    continue
            except DatabaseUnavailableError:
                # Keep going: the deliveries wait in the database, which comes back; an
                # attempt whose outcome could not be stored is retried after its lease.
                log.warning("database unavailable; retrying", extra={"event": "webhook_db_down"})
                if once:
                    raise
            except Exception:  # a defect of ours, not one delivery's: logged, and we go on
                log.exception("webhook worker error", extra={"event": "webhook_worker_error"})
                if once:
                    raise
            if once:
                break
            self.stopping.wait(self.settings.webhook_poll_interval_s)
        return attempts

    def stop(self) -> None:
        self.stopping.set()

    def claim(self, due_by: int) -> Claimed | None:
        with self.database.writing() as uow:
            claimed = uow.deliveries.claim_due(
                due_by, now_ms(), self.settings.webhook_lease_ms, limit=1
            )
            uow.commit()
        return claimed[0] if claimed else None

    def attempt(self, claimed: Claimed) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = self._send(claimed)
        except Exception as exc:  # SPEC §9: nothing about one delivery ends the worker
            log.warning("webhook attempt raised", exc_info=True,
                        extra={"event": "webhook_attempt_error"})  # fmt: skip
            outcome = Outcome(None, _described(exc))
        self._record(claimed, outcome, round((time.perf_counter() - started) * 1000, 2))
        return outcome

    def _send(self, claimed: Claimed) -> Outcome:
        timeout_s = self.settings.webhook_timeout_s
        with AttemptDeadline(timeout_s) as deadline:
            try:
                target = self._check_target(claimed.url)
            except TargetRefusedError as exc:
                return Outcome(None, f"target refused: {exc}")
            except OSError as exc:
                return Outcome(None, f"DNS lookup failed: {exc}")
            if not deadline.remaining():
                return Outcome(None, f"timed out after {timeout_s:g} s (DNS lookup)")
            try:
                return self._post(claimed, target, deadline)
            except httpx.HTTPError as exc:
                if deadline.passed or isinstance(exc, httpx.TimeoutException):
                    return Outcome(None, f"timed out after {timeout_s:g} s")
                return Outcome(None, _described(exc))

    def _post(self, claimed: Claimed, target: Target, deadline: AttemptDeadline) -> Outcome:
        body = orjson.dumps(event_data(claimed.change))
        webhook_id = event_id(claimed.change.id)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(claimed.secret, webhook_id, timestamp, body),
        }
        # Streamed and closed unread: a receiver's answer is its status code.
        with self.client.stream(
            "POST", target.url, content=body, headers=headers,
            timeout=deadline.timeout(), extensions=deadline.extensions,
        ) as reply:  # fmt: skip
            code = reply.status_code
            return Outcome(code, None if reply.is_success else f"HTTP {code}")

    def _check_target(self, url: str) -> Target:
        """The URL's checks again, then every address its host resolves to now (SPEC §9)."""
        allow = self.settings.webhook_allow_loopback
        target = parse_target(url, allow_loopback=allow)
        if target.address is None:
            found = [ip_literal(text) for text in self.resolver(target.host, target.port)]
            addresses = [address for address in found if address is not None]
            if not found or len(addresses) < len(found):
                raise TargetRefusedError("The name resolved to no address, or to a non-address.")
            check_addresses(addresses, allow_loopback=allow)
        return target

    def _record(self, claimed: Claimed, outcome: Outcome, duration_ms: float) -> None:
        """Store the outcome under the claim. If the database is down meanwhile it is not
        stored: the lease expires and the delivery is attempted again (at least once)."""
        now = now_ms()
        values: dict[str, Any] = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error and outcome.error[:MAX_ERROR_LENGTH],
        }
        gone = outcome.status_code == GONE
        if outcome.delivered:
            label = "delivered"
            values |= {"state": DeliveryState.DELIVERED.value, "delivered_time": now,
                       "next_attempt_time": None}  # fmt: skip
        elif gone or claimed.attempts >= self.settings.webhook_max_attempts:
            label = "gone" if gone else "failed"
            values |= {"state": DeliveryState.FAILED.value, "next_attempt_time": None}
            if gone:
                values["last_error"] = "HTTP 410 Gone: the webhook was deactivated"
        else:
            label = "retry"
            delay = retry_delay_s(claimed.attempts, self.settings.webhook_retry_base_s)
            values["next_attempt_time"] = now + int(delay * 1000)
        with self.database.writing() as uow:
            recorded = uow.deliveries.record(claimed, **values)
            if gone and recorded:
                uow.webhooks.deactivate(claimed.webhook_id)
            uow.commit()
        ATTEMPTS.labels(outcome=label).inc()
        log.info(
            "webhook attempt",
            extra={
                "event": "webhook_attempt",
                "delivery_id": claimed.delivery_id,
                "webhook_id": claimed.webhook_id,
                "event_id": event_id(claimed.change.id),
                "event_type": event_type(claimed.change.action),
                "attempt": claimed.attempts,
                "outcome": label,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": duration_ms,
                "recorded": recorded,  # false: the claim expired meanwhile, another retried
            },
        )


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
