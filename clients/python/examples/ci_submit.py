"""A CI job on the client: define (or re-version) a feature, submit it, wait for the verdict.

    FMG_TOKEN=fmg_... python clients/python/examples/ci_submit.py --url http://127.0.0.1:8000 \\
        --name driver_hourly_stats:trips_today --query "SELECT trips FROM t WHERE id = ?"

Exits 0 once the feature is DEPLOYED, 1 when its test fails or it is rejected. Every write
is safe to retry (the client sends an Idempotency-Key), and the submit is conditional on the
revision just written (If-Match), so nobody's change in between is submitted unseen.
"""

from __future__ import annotations

import argparse
import os
import sys

from feature_gateway_client import Client, NotFound
from feature_gateway_client.models import FeatureMetadata

VERDICTS = {"feature.approve": 0, "feature.reject": 1, "feature.test": None}


def define(client: Client, name: str, query: str, description: str) -> FeatureMetadata:
    """A new DRAFT: version 1, or the next version of the highest one."""
    try:
        versions = client.feature_versions(feature_name=f"{name}:1").versions
    except NotFound:
        created = client.create_feature_metadata(
            feature_name=f"{name}:1", feature_type="batch", feature_data_type="integer",
            query=query, description=description,
        )  # fmt: skip
        return created.metadata
    latest = versions[-1]
    return client.create_feature_version(
        feature_name=latest.feature_name, query=query, description=description
    ).metadata


def wait_for_verdict(client: Client, feature: FeatureMetadata, cursor: str | None) -> int:
    for event in client.events(after=cursor, feature_name=feature.feature_name, follow=True):
        if event.type == "feature.test" and event.new_status == "TEST_FAILED":
            print(f"{feature.feature_name}: test failed")
            return 1
        verdict = VERDICTS.get(event.type)
        if verdict is not None:
            print(f"{feature.feature_name}: {event.new_status}")
            return verdict
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--name", required=True, help="<view>:<feature>")
    parser.add_argument("--query", required=True)
    parser.add_argument("--description", default="Defined by CI")
    args = parser.parse_args(argv)
    with Client(args.url, token=os.environ["FMG_TOKEN"]) as client:
        cursor = client.list_events(limit=1000).next_cursor  # only what happens from now on
        feature = define(client, args.name, args.query, args.description)
        client.ready_test_feature_metadata(feature_name=feature.feature_name, if_match=feature)
        return wait_for_verdict(client, feature, cursor)


if __name__ == "__main__":
    sys.exit(main())
