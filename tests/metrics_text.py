"""Reading values out of a /metrics response (Prometheus text format)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample_total(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
