"""The HTTP request metrics every request records, whichever front door answers it.

Labels are the URL rule (``/get_feature_metadata/<feature_name>``), never the raw path,
and a fixed set of methods, so the number of series stays bounded whatever clients send.
Their exposition, with the webhook outbox's, is ``/metrics`` (``api.ops``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from feature_gateway.framework_adapter import histogram_values, metric_value

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


# The requests' metrics are added to on prometheus_client's value objects directly
# (``framework_adapter.metric_value`` and ``histogram_values``), as its ``inc``, ``dec`` and
# ``observe`` add to them once their checks pass, which for the gauge and for labelled
# children made once, none with an exemplar, they always do: the same samples
# (tests/unit/test_request_metrics.py) for half of what recording a request cost
# (docs/performance.md, "i30-read").
_IN_PROGRESS_VALUE = metric_value(IN_PROGRESS)
# The series already made, by their labels: ``labels()`` validates and locks on every call.
# The keys are the bounded label values, so this holds one entry per series, like the
# registry itself: the counter's value, the histogram's sum and its buckets.
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
        summed, buckets = histogram_values(LATENCY.labels(*labels))
        series = _SERIES[key] = (metric_value(REQUESTS.labels(*labels)), summed, buckets)
    counted, summed, buckets = series
    counted.inc(1)
    summed.inc(seconds)
    for bound, bucket in buckets:  # the last bound is +Inf
        if seconds <= bound:
            bucket.inc(1)
            break
