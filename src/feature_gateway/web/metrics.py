"""The HTTP request metrics every request records, whichever front door answers it.

Labels are the URL rule (``/get_feature_metadata/<feature_name>``), never the raw path,
and a fixed set of methods, so the number of series stays bounded whatever clients send.
Their exposition, with the webhook outbox's, is ``/metrics`` (``api.ops``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

UNMATCHED_ENDPOINT = "<unmatched>"  # 404s and 405s: no URL rule matched
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "feature_gateway_http_requests_total",
    "HTTP requests answered, by method, endpoint (URL rule) and status code.",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "feature_gateway_http_request_duration_seconds",
    "Time from the start of request handling to the response, in seconds.",
    ["method", "endpoint", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# "livesum": a dead worker's in-flight count must vanish with it, which is what
# gunicorn.conf.py's child_exit hook (mark_process_dead) does with its file.
IN_PROGRESS = Gauge(
    "feature_gateway_http_requests_in_progress",
    "Requests being handled right now, summed over the live workers.",
    multiprocess_mode="livesum",
)


# prometheus_client 0.26 records on a metric's value objects: its ``_value`` (a histogram's
# ``_sum``, and the ``_buckets`` of its ``_upper_bounds``), each added to under its own lock
# (in this process, or in the worker's file under PROMETHEUS_MULTIPROC_DIR). ``inc``,
# ``dec`` and ``observe`` first check that the metric is observable (no label missing), the
# amount is not negative and any exemplar valid: for the gauge and for labelled children
# made once, none of which takes an exemplar, each check always holds, so the requests'
# values are added to directly, as those methods would (the same samples:
# tests/unit/test_request_metrics.py), for half of what recording a request cost
# (docs/performance.md, "i30-read").
_IN_PROGRESS_VALUE = IN_PROGRESS._value
# The series already made, by their labels: ``labels()`` validates and locks on every call.
# The keys are the bounded label values, so this holds one entry per series, like the
# registry itself. Each holds the counter's value, the histogram's sum and its buckets.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any, tuple[tuple[float, Any], ...]]] = {}


def request_started() -> None:
    """One more request in progress."""
    _IN_PROGRESS_VALUE.inc(1)


def request_answered(method: str, endpoint: str | None, status: int, seconds: float) -> None:
    """One request fewer in progress, and one answered, counted and timed by its labels."""
    _IN_PROGRESS_VALUE.inc(-1)
    key = (method if method in _METHODS else "OTHER", endpoint or UNMATCHED_ENDPOINT, status)
    series = _SERIES.get(key)
    if series is None:
        labels = (key[0], key[1], str(status))
        counter, histogram = REQUESTS.labels(*labels), LATENCY.labels(*labels)
        buckets = tuple(zip(histogram._upper_bounds, histogram._buckets, strict=True))
        series = _SERIES[key] = (counter._value, histogram._sum, buckets)
    counted, summed, buckets = series
    counted.inc(1)
    summed.inc(seconds)
    for bound, bucket in buckets:  # the last bound is +Inf
        if seconds <= bound:
            bucket.inc(1)
            break
