"""The service's WSGI app (``wsgi:app``) with the worker CPU of each call counted by kind,
keyed (an ``Idempotency-Key`` header) or not, for ``bench.keyed_mixed``.

Served as ``gunicorn -c gunicorn.conf.py bench.keyed_split_app:app`` from the checkout's
folder. Each worker adds up its calls and their CPU (``time.thread_time``: the worker's
own thread, user and system) by kind and writes the totals to
``$KEYED_SPLIT_DIR/<pid>`` every ``WRITE_EVERY`` calls (a write per call would cost every
request a file's syscalls); a reader takes the calls and the CPU from the same file, so
the CPU per call between two reads is exact whatever the calls since the last write.
What gunicorn does around the call (accept, parse, write, close) is not in it: the same
for both kinds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from wsgi import app as service

WRITE_EVERY = 25
_FOLDER = Path(os.environ.get("KEYED_SPLIT_DIR", "/tmp"))
_KEY = "HTTP_IDEMPOTENCY_KEY"
# kind -> [calls, CPU seconds]
_TOTALS: dict[str, list[float]] = {"keyed": [0, 0.0], "unkeyed": [0, 0.0]}
_CALLS = [0]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    totals = _TOTALS["keyed" if _KEY in environ else "unkeyed"]
    started = time.thread_time()
    answer = service(environ, start_response)
    totals[1] += time.thread_time() - started
    totals[0] += 1
    _CALLS[0] += 1
    if _CALLS[0] % WRITE_EVERY == 0:
        written = _FOLDER / f".{os.getpid()}.tmp"
        written.write_text(json.dumps(_TOTALS))
        os.replace(written, _FOLDER / str(os.getpid()))
    return answer  # type: ignore[no-any-return]
