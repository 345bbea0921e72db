"""Property-based fuzzing of every operation with Schemathesis, in process (WSGI).

Schemathesis reads /openapi.json from the app and runs all of its phases on every operation:
the documented examples, coverage (boundary and invalid values for each constraint), random
fuzzing (valid and invalid requests) and stateful sequences (create, then use the name). Each
response goes through all of its default checks: no 5xx, status code / content type /
headers / body as documented, valid data accepted, invalid data rejected, 405 with Allow for
undocumented methods.

The database is a fresh one per run (a SQLite file or a new PostgreSQL database) holding a
few seeded features; requests share it, so its size is bounded by the number of examples.
Runs are reproducible: a fixed seed, no Hypothesis example database, no Schemathesis cache.

Environment knobs: FUZZ_MAX_EXAMPLES (default 10 in the suite; `make test-fuzz` uses
100), FUZZ_SEED, and FUZZ_MAX_TIME (seconds; unset by default) to keep fuzzing in rounds
until that much time is spent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, HookContext
from schemathesis.engine import Status, events, from_schema

from feature_gateway.api.webhooks.schemas import WEBHOOK_URL_FORMAT
from feature_gateway.domain.feature_refs import parse_ref
from feature_gateway.domain.idempotency import is_valid_key
from feature_gateway.domain.tokens import MAX_EXPIRES_TIME
from feature_gateway.errors import IDEMPOTENCY_KEY_HEADER
from feature_gateway.shapes import examples
from feature_gateway.shapes.role_schemas import ROLE_HEADER
from feature_gateway.shapes.schema_fields import SQL_SELECT_FORMAT

# Schemathesis' coverage phase (every boundary and invalid value of each constraint) runs
# whatever this says; 10 random examples per operation keep the four runs of `make test`
# to about a minute each on 2 cores (`make test-fuzz` runs 100; 15 took 67-128 s each on
# a slower 2-core machine, 2026-12-06).
DEFAULT_MAX_EXAMPLES = 10
DEFAULT_SEED = 20_260_101
# A second seeded feature, for deprecations to name as their replacement.
REPLACEMENT = "driver_hourly_stats:acc_rate:2"


def map_case(context: HookContext, case: Case) -> Case:
    """Requests as a real client sends them; POST /features gets valid entity columns, tag
    objects (features' tags, tag filters) keys that follow the key rule, a deprecation's
    replaced_by the name of another existing feature, and a diff a version to compare with.

    A GET needs a role from the ``user_role`` query parameter *or* the X-User-Role header.

    Each is optional on its own, and JSON Schema cannot say "one of these two parameters";
    so, as a client sends its credentials with every call, a GET that carries neither gets
    the header. Cases that give either, valid or not, are sent as generated.
    """
    for serving in ("/features", "/get-online-features"):
        values = _valid_body_to(case, serving)
        if values is not None and isinstance(values.get("entities"), dict):
            values["entities"] = _valid_entity_columns(values["entities"])
    feast = _valid_body_to(case, "/get-online-features")
    if feast is not None and isinstance(feast.get("features"), list):
        feast.update(_distinct_columns(feast))
    if _is_positive(case) and case.path == "/get_deployed_features":
        query = case.query or {}
        if str(query.get("at", "")).isdigit():
            # "Not in the future" is the rule JSON Schema cannot state: moved into the past.
            query["at"] = int(query["at"]) % (time.time_ns() // 1_000_000)
    token = _valid_body_to(case, "/tokens")
    if token is not None and isinstance(token.get("expires_time"), int):
        # "In the future" is the one rule of an expiry that JSON Schema cannot state: the
        # generated value is moved into (now, MAX_EXPIRES_TIME].
        soon = time.time_ns() // 1_000_000 + 60_000
        token["expires_time"] = soon + token["expires_time"] % (MAX_EXPIRES_TIME - soon)
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(body, dict) and isinstance(body.get("tags"), dict):
        body["tags"] = _valid_tag_keys(body["tags"])
    if positive and isinstance(body, dict) and "replaced_by" in body:
        # It must name another existing feature, which no schema can say.
        other = REPLACEMENT if body.get("feature_name") != REPLACEMENT else examples.FEATURE_NAME
        body["replaced_by"] = other
    if positive and case.path.endswith("/diff") and "against" not in (case.query or {}):
        # Without it the diff needs a previous_version, which the seeded features lack.
        case.query = {**(case.query or {}), "against": examples.FEATURE_NAME}
    key = (case.headers or {}).get(IDEMPOTENCY_KEY_HEADER)
    if positive and isinstance(key, str) and is_valid_key(key.strip()):
        # A client uses a new key per intended change; Schemathesis draws few distinct
        # values, so its valid cases would reuse one key for different requests (422, as
        # documented, but then "valid data rejected"). Reuse is tested in tests/api.
        case.headers[IDEMPOTENCY_KEY_HEADER] = f"fuzz-{uuid.uuid4().hex}"
    names = {parameter.name for parameter in case.operation.iter_parameters()}
    token_mode = "security" in case.operation.schema.raw_schema  # the token says the role
    if (
        case.method == "GET"
        and not token_mode
        and "user_role" in names
        and "user_role" not in (case.query or {})
    ):
        case.headers.setdefault(ROLE_HEADER, "developer")  # a case-insensitive mapping
    return case


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _distinct_columns(body: dict[str, Any]) -> dict[str, Any]:
    """Feast refs whose columns all have names of their own (the rule no schema states):
    full feature names, and of the refs naming one column (``v@v1:f``, ``v:f:1``) the first."""
    keys = body.get("entities") if isinstance(body.get("entities"), dict) else {}
    seen, kept = set(keys), []
    for ref in body["features"]:
        parsed = parse_ref(ref) if isinstance(ref, str) else None
        column = parsed.column_name(True) if parsed is not None else ref
        if column not in seen:
            seen.add(column)
            kept.append(ref)
    return {"features": kept or body["features"][:1], "full_feature_names": True}


def _valid_body_to(case: Case, path: str) -> dict[str, Any] | None:
    """The JSON object a case POSTs to ``path`` when it is meant to be valid, else None."""
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if case.method == "POST" and case.path == path and positive and isinstance(body, dict):
        return body
    return None


def _map_case_with_token(token: Callable[[], str]) -> Any:
    """``map_case``, and a valid bearer token on every request, as a client sends it (in
    place of the random credentials Schemathesis makes up for the document's bearer scheme).
    ``token`` is asked each time: fuzzing ``DELETE /tokens/{id}`` revokes tokens, its own too.
    """

    def hook(context: HookContext, case: Case) -> Case:
        case = map_case(context, case)
        case.headers["Authorization"] = f"Bearer {token()}"
        return case

    hook.__name__ = map_case.__name__  # Schemathesis knows its hooks by name
    return hook


def _valid_entity_columns(entities: dict[str, Any]) -> dict[str, Any]:
    """Generated ``entities`` with the two rules OpenAPI 3.0 cannot state made to hold.

    Column names must match an identifier pattern (3.0 has no ``propertyNames``) and all
    columns must have the same length (no JSON Schema keyword relates sibling arrays). The
    rest of what Schemathesis generated (values, types, counts) is kept as it is.
    """
    columns = [values for values in entities.values() if isinstance(values, list) and values]
    if not columns:
        return entities
    rows = min(len(values) for values in columns)
    return {f"key_{index}": values[:rows] for index, values in enumerate(columns)}


def _valid_tag_keys(tags: dict[str, Any]) -> dict[str, Any]:
    """Generated tags with keys that follow the key rule (3.0 has no ``propertyNames``)."""
    return {f"k{index}": value for index, value in enumerate(tags.values())}


def _register_formats() -> None:
    """Valid values for the one rule JSON Schema cannot state: a read-only SELECT."""
    word = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
    select = st.builds(
        lambda column, table, condition: f"SELECT c_{column} FROM t_{table}{condition}",
        word,
        word,
        st.sampled_from(["", " WHERE id = ?", " WHERE day >= '2025-01-01' LIMIT 10"]),
    )
    with_select = select.map(lambda inner: f"WITH w AS ({inner}) SELECT * FROM w")
    schemathesis.openapi.format(SQL_SELECT_FORMAT, st.one_of(select, with_select))
    # A webhook target the service accepts: http(s), a public name, an optional port.
    url = st.builds(
        lambda scheme, host, port, path: f"{scheme}://h-{host}.example.com{port}/{path}",
        st.sampled_from(["http", "https"]),
        word,
        st.sampled_from(["", ":8080", ":443"]),
        word,
    )
    schemathesis.openapi.format(WEBHOOK_URL_FORMAT, url)


@dataclass
class OperationStats:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class FuzzReport:
    backend: str
    seed: int
    max_examples: int
    stats: dict[str, OperationStats] = field(default_factory=dict)
    checks: set[str] = field(default_factory=set)
    phases: dict[str, Status] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    running_time: float = 0.0
    stop_reason: str = ""

    @property
    def cases(self) -> int:
        return sum(s.cases for s in self.stats.values())

    @property
    def requests(self) -> int:
        return sum(sum(s.statuses.values()) for s in self.stats.values())

    def summary(self, documented: dict[str, set[int]]) -> str:
        lines = [
            f"Schemathesis {schemathesis.__version__} on {self.backend}: "
            f"{len(self.stats)} operations, {self.cases} test cases, {self.requests} requests, "
            f"{len(self.failures)} failures, {len(self.errors)} errors "
            f"in {self.running_time:.1f}s (seed {self.seed}, max-examples {self.max_examples}, "
            f"stop: {self.stop_reason})",
            "phases: "
            + ", ".join(f"{name} {status.value}" for name, status in self.phases.items()),
            "checks: " + ", ".join(sorted(self.checks)),
        ]
        for label in sorted(self.stats):
            stats = self.stats[label]
            seen = ", ".join(f"{code}x{n}" for code, n in sorted(stats.statuses.items()))
            unseen = sorted(documented.get(label, set()) - set(stats.statuses))
            note = f"  (documented, not hit by fuzzing: {unseen})" if unseen else ""
            lines.append(f"  {label}: {stats.cases} cases; statuses {seen}{note}")
        lines += [f"FAILURE {failure}" for failure in self.failures]
        lines += [f"ERROR {error}" for error in self.errors]
        return "\n".join(lines)


def _settings() -> tuple[int, int, int]:
    return (
        int(os.environ.get("FUZZ_MAX_EXAMPLES", DEFAULT_MAX_EXAMPLES)),
        int(os.environ.get("FUZZ_SEED", DEFAULT_SEED)),
        int(os.environ.get("FUZZ_MAX_TIME", 0)),
    )


def seed_features(app: Flask) -> None:
    """The seed README's feature, ready for approval, so its examples meet a real feature."""
    client = app.test_client()
    steps = [
        ("/create_feature_metadata", examples.CREATE),
        ("/ready_test_feature_metadata", examples.READY_TEST),
        ("/test_feature_metadata", examples.TEST),
        ("/create_feature_metadata", {**examples.CREATE, "feature_name": REPLACEMENT}),
    ]
    for path, body in steps:
        response = client.post(path, json=body)
        assert response.status_code in (200, 201), response.get_json()


def run_fuzzing(
    app: Flask,
    backend: str,
    bearer_token: Callable[[], str] | None = None,
    coverage: bool = True,
) -> FuzzReport:
    """Fuzz every operation; with ``bearer_token``, every request carries the token it gives.
    ``coverage=False`` leaves out Schemathesis' coverage phase (every boundary and invalid
    value of each constraint), for a run whose constraints another run covers.

    The token goes in through the ``map_case`` hook, not Schemathesis' ``auth`` setting:
    with that, Schemathesis 4.32's WSGI transport hands ``max_redirects`` to werkzeug, which
    fails every request. Its ``ignored_auth`` check (which needs that setting) is off; the
    contract tests send every operation without a token instead (test_token_mode_contract).
    """
    max_examples, seed, max_time = _settings()
    _register_formats()
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            # Hypothesis' too_slow check times the data generation, not the service: on a
            # loaded machine (CI at load 15) it failed POST /create_feature_metadata's run.
            "suppress-health-check": ["too_slow"],
            # With a time budget Schemathesis repeats fuzzing rounds until it is spent.
            **({"max-time": max_time} if max_time else {}),
            "generation": {"max-examples": max_examples, "database": "none"},
            "cache": {"enabled": False},
            **({"checks": {"ignored_auth": {"enabled": False}}} if bearer_token else {}),
            **({} if coverage else {"phases": {"coverage": {"enabled": False}}}),
        }
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    schema.hook(_map_case_with_token(bearer_token) if bearer_token else map_case)
    report = FuzzReport(backend, seed, max_examples)
    for operation in schema.get_all_operations():
        report.stats[operation.ok().label] = OperationStats()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        _record(report, event)
    report.running_time = time.monotonic() - started
    return report


def _record(report: FuzzReport, event: Any) -> None:
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        for case_id, node in recorder.cases.items():
            stats = report.stats.setdefault(node.value.operation.label, OperationStats())
            stats.cases += 1
            interaction = recorder.interactions.get(case_id)
            if interaction is not None and interaction.response is not None:
                stats.statuses[interaction.response.status_code] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                report.checks.add(check.name)
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    operation = recorder.cases[case_id].value.operation.label
                    report.failures.append(
                        f"{operation} [{check.name}] {failure.title}: {failure.message}\n"
                        f"    reproduce: {check.failure_info.code_sample}"
                    )
    elif isinstance(event, events.PhaseFinished):
        # Fuzzing and stateful may run several rounds: keep each phase's worst outcome.
        name, status = event.phase.name.value, event.status
        report.phases[name] = max(status, report.phases.get(name, status))
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"{event.label}: {event.info.message}")
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.EngineFinished):
        report.stop_reason = event.stop_reason.value
        report.failures += [
            f"[run] {failure.title}: {failure.message}" for failure in event.failures
        ]


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def publish_report(
    report: FuzzReport, contract: Any, name: str, capsys: Any
) -> dict[str, set[int]]:
    """Print the summary and keep it in artifacts/<name>.txt; the documented statuses."""
    documented = {op.label: op.statuses for op in contract.operations()}
    summary = report.summary(documented)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.txt").write_text(summary + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\n{summary}")
    return documented
