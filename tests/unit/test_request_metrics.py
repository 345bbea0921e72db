"""The request metrics are recorded on prometheus_client's value objects directly
(``web.metrics``): the samples are the ones its ``inc``, ``dec`` and ``observe`` give."""

from __future__ import annotations

from prometheus_client import REGISTRY

from feature_gateway.web.metrics import request_answered, request_started

_IN_PROGRESS = "feature_gateway_http_requests_in_progress"
_BOUNDS = ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0",
           "2.5", "5.0", "10.0", "+Inf")  # fmt: skip


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_request_is_counted_timed_and_in_progress_as_prometheus_client_records_it() -> None:
    labels = {"method": "PATCH", "endpoint": "/metrics-test/<name>", "status": "418"}
    in_progress = _sample(_IN_PROGRESS)
    durations = [0.0005, 0.001, 0.003, 0.2, 10.0, 50.0]

    for seconds in durations:
        request_started()
        assert _sample(_IN_PROGRESS) == in_progress + 1
        request_answered("PATCH", "/metrics-test/<name>", 418, seconds)
    request_answered("BREW", None, 404, 0.002)  # an unknown method and no rule: bounded labels

    assert _sample(_IN_PROGRESS) == in_progress - 1  # the unmatched request was never started
    name = "feature_gateway_http_requests_total"
    assert _sample(name, **labels) == len(durations)
    assert _sample("feature_gateway_http_request_duration_seconds_count", **labels) == 6
    assert _sample("feature_gateway_http_request_duration_seconds_sum", **labels) == sum(durations)
    buckets = [
        _sample("feature_gateway_http_request_duration_seconds_bucket", **labels, le=bound)
        for bound in _BOUNDS
    ]
    assert buckets == [2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 6]  # cumulative, as exposed
    unmatched = {"method": "OTHER", "endpoint": "<unmatched>", "status": "404"}
    assert _sample(name, **unmatched) >= 1
