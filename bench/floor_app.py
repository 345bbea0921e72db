"""The floor of the stack: the least `/health` and a read by name can do on the service's
own libraries and still be what SPEC §5 asks of every request.

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
  sent as they are.

No roles, no schemas, no ETag, no metrics, no error handling, no replica routing: what the
service adds over this floor is its own choice, and what this floor costs over the bare
endpoint is the stack's (``bench.floor`` measures the three in the same rounds).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import orjson
from flask import Flask, Response, g, request
from sqlalchemy import create_engine

app = Flask("floor")
# Autocommit, as the service's lookups: a read needs no transaction of its own.
engine = create_engine(os.environ["DATABASE_URL"], isolation_level="AUTOCOMMIT")
HEALTHY = orjson.dumps({"status": "healthy", "database": "ok", "version": "0.1.0"})
PLACEHOLDER = "?" if engine.dialect.paramstyle == "qmark" else "%s"
READ = f"SELECT fields_json FROM features WHERE feature_name = {PLACEHOLDER}"


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
