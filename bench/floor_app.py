"""The floor of the stack: the least `/health`, a read by name and `POST /features` can do on
the service's own libraries and still be what SPEC §5 asks of every request.

``bench/bare_app.py`` is the ceiling the SPEC's ratios are taken against: Flask returning a
constant. This app adds only what SPEC §5 requires of every request of the service and what
the two endpoints cannot answer without, each in its cheapest form:

- a request id, ``X-Request-ID`` honoured and echoed (SPEC §5);
- one JSON log line per request with method, path, status, duration and the request id,
  written straight to stderr's stream (the service writes its line to its handler's stream
  the same way when that handler is the only one, ``observability.RecordMaker.log``);
- `/health`: ``SELECT 1`` on the driver's connection from SQLAlchemy's pool (the database's
  state is what a health check reports; a pool is what lets a worker survive a database
  restart);
- a read by name: one indexed ``SELECT`` of the row's stored JSON on the same, its bytes
  sent as they are;
- `POST /features`: the body parsed by orjson, one ``SELECT`` of the requested names'
  types and status on a pooled connection (by the stored name only, one placeholder a
  name: the service also finds a version by its other spelling), the value engine
  (``feature_gateway.domain.values.simulate_columns``, the SPEC's scheme: its BLAKE2b
  seeds and all) called directly, and its columns written by one ``orjson.dumps``. For a
  body the service accepts that names features by their stored names, the body's bytes are
  the service's (``bench.floor --check`` compares them on both databases).

No roles, no schemas, no ETag, no metrics, no limits, no read counting, no error handling,
no replica routing: what the service adds over this floor is its own choice, and what this
floor costs over the bare endpoint is the stack's (``bench.floor`` measures the three in
the same rounds).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from flask import Flask, Response, g, request
from sqlalchemy import create_engine

from feature_gateway.domain.values import Column, FeatureSpec, simulate_columns

app = Flask("floor")
# Autocommit, as the service's lookups: a read needs no transaction of its own.
engine = create_engine(os.environ["DATABASE_URL"], isolation_level="AUTOCOMMIT")
HEALTHY = orjson.dumps({"status": "healthy", "database": "ok", "version": "0.1.0"})
PLACEHOLDER = "?" if engine.dialect.paramstyle == "qmark" else "%s"
READ = f"SELECT fields_json FROM features WHERE feature_name = {PLACEHOLDER}"
SERVED_TYPES = "SELECT feature_name, feature_type, feature_data_type, status FROM features " \
    "WHERE feature_name IN ({})"  # fmt: skip
SERVED = frozenset({"DEPLOYED", "DEPRECATED"})


@app.before_request
def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex


@app.after_request
def _logged(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.request_id
    sys.stderr.write(
        orjson.dumps(
            {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.started) * 1000, 3),
                "request_id": g.request_id,
            }
        ).decode()
        + "\n"
    )
    return response


@app.get("/health")
def health() -> Response:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()
    finally:
        connection.close()  # back to the pool
    return Response(HEALTHY, mimetype="application/json")


@app.get("/get_feature_metadata/<path:name>")
def read(name: str) -> Response:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(READ, (name,))
        (stored,) = cursor.fetchone() or (None,)
        cursor.close()
    finally:
        connection.close()
    if stored is None:
        return Response(status=404)
    return Response(stored, mimetype="application/json")


@app.post("/features")
def values() -> Response:
    body = orjson.loads(request.get_data())
    names, entities, at = body["features"], body["entities"], body.get("event_timestamp")
    columns = simulate_columns(
        names, served(names), entities, time.time_ns() // 1_000_000 if at is None else at
    )
    return Response(values_json([*entities, *names], columns), mimetype="application/json")


def served(names: list[str]) -> dict[str, FeatureSpec]:
    """The served features among ``names``, by one statement on a pooled connection."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(SERVED_TYPES.format(",".join([PLACEHOLDER] * len(names))), names)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    return {row[0]: FeatureSpec(*row[:3]) for row in rows if row[3] in SERVED}


def values_json(feature_names: list[str], columns: Iterable[Column]) -> bytes:
    """``{"metadata": {"feature_names": …}, "results": [{"values", "statuses",
    "event_timestamps"}, …]}`` as orjson writes it, each list the engine shares among
    columns (its status and time lists) written once: ``orjson.dumps`` of the whole object
    wrote them again for every column, twice what this costs (728 K instructions against
    389 K for 10 x 100)."""
    written: dict[int, tuple[Sequence[Any], bytes]] = {}  # the list kept: its id stays its
    parts = [b'{"metadata":{"feature_names":', orjson.dumps(feature_names), b'},"results":[']
    for index, column in enumerate(columns):
        lists = []
        for shared in (column.statuses, column.event_timestamps):
            found = written.get(id(shared))
            if found is None:
                found = written[id(shared)] = (shared, orjson.dumps(shared))
            lists.append(found[1])
        parts += (b',{"values":' if index else b'{"values":',
                  orjson.dumps(column.values, option=orjson.OPT_SERIALIZE_NUMPY),
                  b',"statuses":', lists[0], b',"event_timestamps":', lists[1], b"}")  # fmt: skip
    parts.append(b"]}")
    return b"".join(parts)
