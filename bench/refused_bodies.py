"""A worker's peak memory on the requests it refuses (SPEC §6: <= 100 MB RSS per worker at
all times, the error paths included; docs/performance.md, "i27-bodies").

Run: ``.venv/bin/python -m bench.refused_bodies [--backends sqlite postgresql] [--load 1]``
(``--root DIR`` serves another checkout's code, as ``bench.memory``). One gunicorn worker
(``gunicorn.conf.py``) on a scratch database of ``--size`` features, first brought to where
``bench.memory`` leaves it (``--load`` seconds of each of ``bench.core``'s scenarios, ten
lifecycles, both maximum-size ``POST /features``); then each refused request below, each
after the worker's peak is reset (``/proc/<pid>/clear_refs``): its RSS before, its peak
(VmHWM) while it is answered, the status. The worker's peak at all times is the highest
of them and of the warm-up's.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from bench.common import Gunicorn, load_run, memory_mb, run_memory_bench
from bench.core import MAX_SIZE_SHAPES
from bench.datasets import Dataset, fill, scratch_database
from bench.scenarios import lifecycle_ms, scenarios, served_names, values_body, values_ms

JSON = {"Content-Type": "application/json"}
ZEROS = b"0," * 999_999 + b"0"  # a million values in 2 MB, just under the body limit
CREATE = "/create_feature_metadata"
_CREATE = {
    "feature_name": "refused:f:1", "feature_type": "batch", "feature_data_type": "float",
    "query": "SELECT 1", "description": "d", "created_by": "dev", "user_role": "developer",
}  # fmt: skip


def _create_with(field: bytes) -> bytes:
    """A create whose fields are valid but for ``field`` (a raw ``"name": value``)."""
    return orjson.dumps(_CREATE)[:-1] + b"," + field + b"}"


Request = tuple[str, str, str, dict[str, str], bytes]  # label, method, path, headers, body


def refused_requests() -> Iterator[Request]:
    rows = b'{"features":["v:f"],"entities":{"id":[' + ZEROS + b"]}}"
    yield "values: 1,000,000 entity rows (422)", "POST", "/features", JSON, rows
    yield "Feast: 1,000,000 entity rows (422)", "POST", "/get-online-features", JSON, rows
    columns = b",".join(b'"k%d":[0]' % i for i in range(150_000))
    body = b'{"features":["v:f"],"entities":{' + columns + b"}}"
    yield "values: 150,000 key columns (422)", "POST", "/features", JSON, body
    names = b",".join(b'"x%d"' % i for i in range(190_000))
    body = b'{"features":[' + names + b'],"entities":{"id":[1]}}'
    yield "values: 190,000 feature names (422)", "POST", "/features", JSON, body
    yield "values: an array of 1,000,000 (422)", "POST", "/features", JSON, b"[" + ZEROS + b"]"
    body = rows[:-3] + b'],"id":[1]}}'  # a key given twice: parsed by orjson, as before
    yield "values: a key column given twice (422)", "POST", "/features", JSON, body
    yield "values: 2 MB of '[' (400)", "POST", "/features", JSON, b"[" * 2_000_000
    yield "create: 2 MB of '[' (400)", "POST", CREATE, JSON, b"[" * 2_000_000
    body = _create_with(b'"tags":[' + ZEROS + b"]")
    yield "create: tags an array of 1,000,000 (422)", "POST", CREATE, JSON, body
    keyed = {**JSON, "Idempotency-Key": "refused-1"}
    yield "create, keyed: the same (422, stored)", "POST", CREATE, keyed, body
    tags = b",".join(b'"k%d":"v"' % i for i in range(150_000))
    body = _create_with(b'"tags":{' + tags + b"}")
    yield "create: tags an object of 150,000 keys (422)", "POST", CREATE, JSON, body
    body = _create_with(b'"description":"' + b"x" * 2_000_000 + b'"')
    yield "create: a 2 MB description (422)", "POST", CREATE, JSON, body
    unknown = b",".join(b'"u%d":0' % i for i in range(150_000))
    body = _create_with(unknown)
    yield "create: 150,000 unknown fields (422)", "POST", CREATE, JSON, body
    keyed = {**JSON, "Idempotency-Key": "refused-2"}
    yield "create, keyed: the same (422, stored)", "POST", CREATE, keyed, body
    query = "&".join(f"p{i}=1" for i in range(800))[:4000]
    path = f"/get_all_feature_metadata?user_role=developer&{query}"
    yield "list: 4 kB of unknown query parameters (422)", "GET", path, {}, b""
    path = "/get_all_feature_metadata?user_role=developer&q=" + "x" * 100_000
    yield "list: a 100 kB query string", "GET", path, {}, b""
    headers = {f"X-H{i}": "v" * 8_000 for i in range(99)}
    yield "read: 99 headers of 8 kB", "GET", "/health", headers, b""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"&".join(b"c%d=1" % i for i in range(300_000))[:2_000_000]
    path = "/console/features/refused:f:1/comments"
    yield "console: a 2 MB form of 300,000 fields", "POST", path, form, body
    body = b"c=" + b"x" * 1_999_998
    yield "console: a 2 MB form of one field", "POST", path, form, body
    form = {"Content-Type": "multipart/form-data; boundary=b"}
    part = b'--b\r\nContent-Disposition: form-data; name="c"\r\n\r\n1\r\n'
    body = part * (2_000_000 // len(part)) + b"--b--\r\n"
    yield "console: a 2 MB multipart form", "POST", path, form, body


def _send(url: str, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        connection.request(method, path, body or None, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (ConnectionError, http.client.HTTPException) as exc:
        return -len(type(exc).__name__)  # a closed connection: no status
    finally:
        connection.close()


def _reset_peak(pid: int) -> None:
    """VmHWM back to the RSS now (proc(5), clear_refs: 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _warm(app: Gunicorn, data: Dataset, folder: Path, seconds: int) -> None:
    for scenario in scenarios(data, folder) if seconds else []:
        load_run(app, scenario.path, seconds, script=scenario.script)
    lifecycle_ms(app.url, 10)
    for n_features, n_rows in MAX_SIZE_SHAPES:
        values_ms(app.url, values_body(served_names(data, n_features), n_features, n_rows), 2)


def measure(
    backend: str, size: int, folder: Path, pg_admin_url: str, root: Path, seconds: int
) -> None:
    print(f"\n{backend}, {size:,} features, one worker: MiB")
    with scratch_database(backend, folder, pg_admin_url) as url:
        data = fill(url, size)
        app = Gunicorn("wsgi:app", {"DATABASE_URL": url}, root=root, workers=1)
        try:
            (worker,) = app.workers()
            peak: Callable[[], float] = lambda: memory_mb(worker, "VmHWM")  # noqa: E731
            _warm(app, data, folder, seconds)
            highest = peak()
            print(f"  {'after the warm-up (bench.memory), peak':52} {highest:8.1f}")
            print(f"  {'request':52} {'RSS':>8} {'peak':>8} {'added':>8} {'status':>7}")
            for label, method, path, headers, body in refused_requests():
                _reset_peak(worker)
                before = memory_mb(worker, "VmRSS")
                status = _send(app.url, method, path, headers, body)
                during = peak()
                highest = max(highest, during)
                added = during - before
                print(f"  {label:52} {before:8.1f} {during:8.1f} {added:8.1f} {status:7}")
            print(f"  worker peak at all times: {highest:.1f} MiB (goal: <= 100)")
        finally:
            app.stop()


def main() -> None:
    run_memory_bench(__doc__.split("\n\n")[0], measure, 10_000, 1, "seconds of wrk per scenario")


if __name__ == "__main__":
    main()
