"""The Prometheus exposition of ``/metrics``: every metric of the process (the requests'
in ``web.metrics``, the others in ``observability``), or with a multiprocess directory of
every worker, and the webhook outbox, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from feature_gateway.domain.webhooks import DeliveryState
from feature_gateway.services.webhooks import DeliveryStats


class _DeliveryCollector:
    """The webhook outbox, read from the database at scrape time: every worker process and
    host sees the same figures, whichever API worker answers the scrape."""

    def __init__(self, stats: DeliveryStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state = GaugeMetricFamily(
            "feature_gateway_webhook_deliveries",
            "Webhook deliveries stored, by state (pending, delivered, failed).",
            labels=["state"],
        )
        for state in DeliveryState:
            by_state.add_metric([state.value], self.stats.by_state.get(state.value, 0))
        yield by_state
        yield GaugeMetricFamily(
            "feature_gateway_webhook_queue_depth",
            "Webhook deliveries waiting to be sent (state pending).",
            value=self.stats.pending,
        )
        yield GaugeMetricFamily(
            "feature_gateway_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery; 0 when none is pending.",
            value=self.stats.oldest_pending_age_s,
        )


def delivery_exposition(stats: DeliveryStats) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DeliveryCollector(stats))
    return generate_latest(registry)


def exposition(multiproc_dir: str) -> tuple[bytes, str]:
    """The text format of every metric; with a multiprocess directory, of all workers."""
    if multiproc_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
