"""A workflow load for the resilience tests: client threads, safe retries, and their ledger.

Each client thread takes features of its own through create → ready_test → test → approve,
one request at a time, so what every write should have done is known exactly. Every write
carries an ``Idempotency-Key`` (SPEC §11), and a write whose outcome the client cannot know
(the connection broke, a proxy answered 502/504, the service 503, the response was dropped
on purpose) is sent again with the same key until it is answered: it is applied once, or
answered with the first attempt's stored response. A write still unanswered when its retry
time is up is an unknown outcome, and its feature is left there.

Afterwards ``verify_ledger`` reads every feature back through the API (no acknowledged write
may be missing, nothing may be applied twice) and ``verify_audit_chains`` runs
``feature-gateway audit verify`` on the database. Those two and ``Client.write`` are the
places where the idempotent retries and the chain check plug in.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import SEED_FEATURE
from tests.deploy.support import Reply, app_environment, call

# Answers that say nothing about whether the write was applied.
UNCERTAIN_STATUSES = frozenset({502, 503, 504})
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Step:
    name: str
    path: str
    triggers: tuple[str, ...]  # what it appends to the feature's history
    status_after: str
    success: int
    fields: tuple[tuple[str, str], ...]


STEPS = (
    Step("create", "/create_feature_metadata", ("create",), "DRAFT", 201, ()),
    Step(
        "ready_test",
        "/ready_test_feature_metadata",
        ("submit",),
        "READY_FOR_TESTING",
        200,
        (("submitted_by", "dev"), ("user_role", "developer")),
    ),
    Step(
        "test",
        "/test_feature_metadata",
        ("test",),
        "TEST_SUCCEEDED",
        200,
        (
            ("test_result", "TEST_SUCCEEDED"),
            ("tested_by", "ci"),
            ("user_role", "external_testing_system"),
        ),
    ),
    Step(
        "approve",
        "/approve_feature_metadata",
        ("approve", "deploy"),
        "DEPLOYED",
        200,
        (("approved_by", "boss"), ("user_role", "approver")),
    ),
)


def step_body(step: Step, name: str) -> dict[str, Any]:
    if step.name == "create":
        return {**SEED_FEATURE, "feature_name": name, "created_by": "dev"}
    return {"feature_name": name, **dict(step.fields)}


@dataclass
class FeatureRecord:
    name: str
    acknowledged: list[str] = field(default_factory=list)  # step names, in order
    unknown: str | None = None  # the step whose outcome the client never learnt
    refused: str | None = None  # an answer no step of this load should get


@dataclass
class Figures:
    requests: int = 0
    acknowledged_writes: int = 0
    retries: int = 0
    dropped_responses: int = 0  # responses the client threw away on purpose, then retried
    dropped_successes: int = 0  # of those, the 2xx ones: their retry must be a replay
    replayed_successes: int = 0  # retries of those answered from the store, same status
    replays: int = 0  # answers with Idempotent-Replayed: true
    unknown_outcomes: int = 0
    answers: Counter[int] = field(default_factory=Counter)  # status of every answer

    def add(self, other: Figures) -> None:
        for name in (
            "requests",
            "acknowledged_writes",
            "retries",
            "dropped_responses",
            "dropped_successes",
            "replayed_successes",
            "replays",
            "unknown_outcomes",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.answers.update(other.answers)


def supports_idempotency(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the service documents Idempotency-Key on its writes (SPEC §11)."""
    document = call(port, "GET", "/openapi.json", host=host).json()
    operation = document["paths"]["/create_feature_metadata"]["post"]
    parameters = operation.get("parameters", [])
    return any(p.get("name") == "Idempotency-Key" for p in parameters)


class Client:
    """One client thread's connection to the service: writes with keys, and retries."""

    def __init__(
        self,
        port: int,
        host: str,
        *,
        retry_for: float,
        drop_every: int,
        figures: Figures,
    ) -> None:
        self.port, self.host = port, host
        self.retry_for = retry_for
        self.drop_every = drop_every
        self.figures = figures
        self._writes = 0

    def write(self, path: str, body: dict[str, Any]) -> Reply | None:
        """The write's answer, or None when its outcome stayed unknown."""
        self._writes += 1
        key = uuid.uuid4().hex
        drop = self.drop_every > 0 and self._writes % self.drop_every == 0
        deadline = time.monotonic() + self.retry_for
        uncertain = False  # an earlier attempt may have been applied
        dropped_status: int | None = None
        pause = 0.05
        while True:
            self.figures.requests += 1
            reply: Reply | None = None
            try:
                if drop:
                    drop = False
                    uncertain = True
                    dropped_status = self._send_and_drop(path, body, key)
                    self.figures.dropped_responses += 1
                    if dropped_status is not None and 200 <= dropped_status < 300:
                        self.figures.dropped_successes += 1
                else:
                    reply = call(
                        self.port,
                        "POST",
                        path,
                        body,
                        headers={"Idempotency-Key": key},
                        host=self.host,
                        timeout=15,
                    )
            except ConnectionRefusedError:
                pass  # nothing was sent: always safe to send again
            except (OSError, http.client.HTTPException):
                uncertain = True  # sent, but the answer was lost
            if reply is not None:
                self.figures.answers[reply.status] += 1
                if reply.headers.get(REPLAYED) == "true":
                    self.figures.replays += 1
                    if reply.status == dropped_status and 200 <= reply.status < 300:
                        self.figures.replayed_successes += 1
                if reply.status in UNCERTAIN_STATUSES:
                    uncertain = True
                elif not (reply.status == 409 and uncertain):
                    return reply
                # A 409 after an attempt that may be in flight: the first is still running,
                # or it was killed and its claim holds the key until its lease runs out.
            if time.monotonic() > deadline:
                self.figures.unknown_outcomes += 1
                return None
            self.figures.retries += 1
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _send_and_drop(self, path: str, body: dict[str, Any], key: str) -> int | None:
        """Send a write, wait until its answer arrives, and close without reading it.

        The status line is peeked at (it stays unread), so that a retry of a write that
        succeeded can be told to owe a replay; None when no answer came.
        """
        connection = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
            assert connection.sock is not None
            select.select([connection.sock], [], [], 15)
            head = connection.sock.recv(16, socket.MSG_PEEK)
        finally:
            connection.close()
        match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        return int(match.group(1)) if match else None


class WorkflowLoad:
    """Client threads driving features through their life until stopped."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        threads: int,
        prefix: str,
        retry_for: float = 30,
        drop_every: int = 0,
    ) -> None:
        self.port, self.host, self.prefix = port, host, prefix
        self.retry_for, self.drop_every = retry_for, drop_every
        self._stop = threading.Event()
        self._records: list[list[FeatureRecord]] = [[] for _ in range(threads)]
        self._figures = [Figures() for _ in range(threads)]
        self._acknowledged_at: list[list[float]] = [[] for _ in range(threads)]
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"load-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> WorkflowLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} did not stop"

    @property
    def records(self) -> list[FeatureRecord]:
        return [record for records in self._records for record in records]

    @property
    def figures(self) -> Figures:
        total = Figures()
        for figures in self._figures:
            total.add(figures)
        return total

    def acknowledged_since(self, moment: float) -> int:
        return sum(1 for times in self._acknowledged_at for t in times if t > moment)

    def _run(self, index: int) -> None:
        figures, records = self._figures[index], self._records[index]
        client = Client(
            self.port,
            self.host,
            retry_for=self.retry_for,
            drop_every=self.drop_every,
            figures=figures,
        )
        number = 0
        while not self._stop.is_set():
            number += 1
            record = FeatureRecord(f"{self.prefix}_{index}:f{number}:1")
            records.append(record)
            for step in STEPS:
                if self._stop.is_set():
                    break
                reply = client.write(step.path, step_body(step, record.name))
                if reply is None:
                    record.unknown = step.name
                    break
                if reply.status != step.success:
                    record.refused = f"{step.name}: {reply.status} {reply.body[:300]!r}"
                    break
                record.acknowledged.append(step.name)
                figures.acknowledged_writes += 1
                self._acknowledged_at[index].append(time.monotonic())


@dataclass
class LedgerCheck:
    lost: list[str] = field(default_factory=list)  # acknowledged writes not in the database
    unexpected: list[str] = field(default_factory=list)  # applied twice, or never asked for
    unknown_applied: int = 0
    unknown_not_applied: int = 0
    existing: int = 0  # features the database holds


STEP_BY_NAME = {step.name: step for step in STEPS}


def _read_back(port: int, host: str, name: str) -> tuple[str | None, list[str]]:
    """The feature's status (None when it does not exist) and its history's triggers."""
    for _ in range(5):
        try:
            metadata = call(
                port, "GET", f"/get_feature_metadata/{name}?user_role=developer", host=host
            )
            history = call(
                port,
                "GET",
                f"/features/{name}/history",
                headers={"X-User-Role": "developer"},
                host=host,
            )
        except (OSError, http.client.HTTPException):
            time.sleep(0.5)
            continue
        if metadata.status == 404 and history.status == 404:
            return None, []
        if metadata.status == 200 and history.status == 200:
            triggers = [entry["trigger"] for entry in history.json()["history"]]
            return str(metadata.json()["metadata"]["status"]), triggers
        time.sleep(0.5)
    raise AssertionError(f"could not read {name} back: {metadata.status} {history.status}")


def _check(port: int, host: str, record: FeatureRecord) -> LedgerCheck:
    status, triggers = _read_back(port, host, record.name)
    check = LedgerCheck(existing=int(status is not None))
    done = [STEP_BY_NAME[name] for name in record.acknowledged]
    expected = [trigger for step in done for trigger in step.triggers]
    expected_status = done[-1].status_after if done else None
    if record.unknown:
        step = STEP_BY_NAME[record.unknown]
        if (status, triggers) == (step.status_after, expected + list(step.triggers)):
            check.unknown_applied += 1
            return check
    if (status, triggers) == (expected_status, expected):
        check.unknown_not_applied += int(record.unknown is not None)
        return check
    # Which acknowledged writes are missing, and what is there that nobody asked for.
    for step in done:
        if not set(step.triggers) <= set(triggers):
            check.lost.append(f"{record.name} {step.name}")
    if not check.lost:
        check.unexpected.append(f"{record.name}: status {status}, history {triggers}")
    return check


def verify_ledger(
    port: int, records: Iterable[FeatureRecord], host: str = "127.0.0.1"
) -> LedgerCheck:
    """Read every feature of the load back through the API."""
    total = LedgerCheck()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for check in pool.map(lambda record: _check(port, host, record), records):
            total.lost += check.lost
            total.unexpected += check.unexpected
            total.unknown_applied += check.unknown_applied
            total.unknown_not_applied += check.unknown_not_applied
            total.existing += check.existing
    return total


@dataclass
class ChainCheck:
    features: int
    breaks: list[dict[str, Any]]


def verify_audit_chains(database_url: str) -> ChainCheck:
    """``feature-gateway audit verify --json`` on the database: exit 0 whole, exit 1 breaks."""
    command = [str(Path(sys.executable).with_name("feature-gateway")), "audit", "verify", "--json"]
    done = subprocess.run(
        command,
        env=app_environment(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), f"audit verify could not run:\n{done.stdout}{done.stderr}"
    report = json.loads(done.stdout)
    assert report["whole"] == (done.returncode == 0), done.stdout
    return ChainCheck(int(report["features"]), list(report["breaks"]))


def resilience_figures(
    figures: Figures, ledger: LedgerCheck, chains: ChainCheck, **extra: Any
) -> dict[str, Any]:
    """The figures every resilience test prints, in one order; ``extra`` before the answers."""
    return {
        "requests": figures.requests,
        "acknowledged writes": figures.acknowledged_writes,
        "lost": len(ledger.lost),
        "chain breaks": len(chains.breaks),
        "features checked by audit verify": chains.features,
        "unknown outcomes": figures.unknown_outcomes,
        "of which applied": ledger.unknown_applied,
        "retries": figures.retries,
        "replays": figures.replays,
        "dropped responses": figures.dropped_responses,
        "dropped 2xx replayed": f"{figures.replayed_successes}/{figures.dropped_successes}",
        **extra,
        "answers": dict(sorted(figures.answers.items())),
    }
