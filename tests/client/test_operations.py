"""Every method of the client against a real gunicorn, on SQLite and PostgreSQL: the README's
workflow and the catalog in trust mode, token and webhook management in token mode. Each
walk records the operations it called; together they are every operation of the document."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from feature_gateway_client import OPERATIONS, Client, models
from tests.client.support import Service
from tests.client.test_generated import _document

QUERY = "SELECT trips_today FROM driver_hourly_stats WHERE driver_id = ?"


class RecordingClient(Client):
    """The client, noting the name of each operation it sends."""

    called: set[str]

    def _send(self, operation: Any, *args: Any) -> Any:
        self.called.add(operation.name)
        return super()._send(operation, *args)


def _recording(url: str, **options: Any) -> RecordingClient:
    client = RecordingClient(url, **options)
    client.called = set()
    return client


def _token_mode_only(tmp_path: Path) -> set[str]:
    """Operations that only refuse in trust mode: no success response in its document."""
    document = _document(tmp_path, "trust")
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
        and not any(str(status).startswith("2") for status in operation["responses"])
    }  # fmt: skip


def _workflow(client: RecordingClient, name: str) -> models.FeatureMetadata:
    dev = client.acting_as(role="developer", actor="dev")
    created = dev.create_feature_metadata(
        feature_name=name, feature_type="batch", feature_data_type="integer",
        description="Trips completed today", query=QUERY, tags={"team": "mobility"},
    )  # fmt: skip
    assert (created.metadata.status, created.metadata.revision) == ("DRAFT", 1)
    edited = dev.update_feature_metadata(
        feature_name=name, description="Trips today", if_match=created.metadata
    )
    submitted = dev.ready_test_feature_metadata(feature_name=name, if_match=edited.metadata)
    assert (submitted.previous_status, submitted.new_status) == ("DRAFT", "READY_FOR_TESTING")
    qa = client.acting_as(role="external_testing_system", actor="qa")
    failed = qa.test_feature_metadata(feature_name=name, test_result="TEST_FAILED",
                                      test_notes="nulls", if_match=submitted.metadata)  # fmt: skip
    fixed = dev.fix_feature_metadata(feature_name=name, fix_description="coalesce",
                                     if_match=failed.metadata)  # fmt: skip
    dev.ready_test_feature_metadata(feature_name=name, if_match=fixed.metadata)
    qa.test_feature_metadata(feature_name=name, test_result="TEST_SUCCEEDED")
    approver = client.acting_as(role="approver", actor="carol")
    rejected = approver.reject_feature_metadata(feature_name=name, rejection_reason="naming")
    assert rejected.new_status == "REJECTED"
    dev.fix_feature_metadata(feature_name=name, fix_description="renamed")
    dev.ready_test_feature_metadata(feature_name=name)
    tested = qa.test_feature_metadata(feature_name=name, test_result="TEST_SUCCEEDED")
    approved = approver.approve_feature_metadata(
        feature_name=name, approval_notes="ok", if_match=tested.metadata
    )
    assert (approved.new_status, approved.metadata.deployed_by) == ("DEPLOYED", "carol")
    return approved.metadata


def _reads(client: RecordingClient, name: str) -> None:
    assert client.get_feature_metadata(feature_name=name).metadata.status == "DEPLOYED"
    assert client.get_feature_metadata_by_path(feature_name=name).metadata.tags == {
        "team": "mobility"
    }
    page = client.list_feature_metadata(status=["DEPLOYED"], tags={"team": None}, limit=5)
    assert [f.feature_name for f in page.metadata] == [name] and page.total_count == 1
    by_query = client.list_feature_metadata_by_query(search="trips", sort="-created_time")
    assert by_query.total_count >= 1
    assert name in [f.feature_name for f in client.get_deployed_features().features]
    history = client.feature_history(feature_name=name).history
    assert [h.trigger for h in history][-2:] == ["approve", "deploy"]
    assert client.get_feature_history(feature_name=name).history == history
    changes = client.feature_changes(feature_name=name).changes
    assert changes[1].fields["description"].from_ == "Trips completed today"
    approver = client.acting_as(role="approver", actor="carol")
    said = approver.comment_on_feature(feature_name=name, body="Deployed; watch the weekend")
    assert (said.comment.author, said.comment.author_role) == ("carol", "approver")
    listed = client.feature_comments(feature_name=name, limit=10)
    assert [c.body for c in listed.comments] == ["Deployed; watch the weekend"]
    assert (listed.total_count, listed.limit, listed.offset) == (1, 10, 0)
    assert name in client.available_features().available_features
    values = client.get_online_features(features=[name], entities={"driver_id": ["D1", "D2"]})
    assert values.results is not None and values.results[1].statuses == ["PRESENT"] * 2
    view_and_feature = name.rsplit(":", 1)[0]  # Feast's ref: the served version, highest
    feast = client.get_online_features_feast(  # booleans in a body are JSON's
        features=[view_and_feature],
        entities={"driver_id": ["D1"]},
        include_feature_view_version_metadata=True,
    )
    assert feast.metadata.feature_names == ["driver_id", "trips_today"]
    assert feast.metadata.feature_view_metadata == [
        models.FeatureView(name="client_walk", version=1)
    ]
    assert feast.results[1].statuses == ["PRESENT"]
    then = client.get_deployed_features(at=int(time.time() * 1000)).features
    assert name in [f.feature_name for f in then]
    usage = client.feature_usage(feature_name=name, days=7)  # counts flushed: USAGE_FLUSH_S
    assert (usage.feature_name, usage.days) == (name, 7)


def _catalog(client: RecordingClient, name: str) -> None:
    dev = client.acting_as(role="developer", actor="dev")
    second = dev.create_feature_version(feature_name=name, query="SELECT 2 AS trips_today")
    new_name = second.metadata.feature_name
    assert second.metadata.previous_version == name
    assert [v.feature_name for v in client.feature_versions(feature_name=name).versions] == [
        name, new_name,
    ]  # fmt: skip
    assert client.feature_diff(feature_name=new_name).query_diff
    gone = dev.delete_feature_metadata(feature_name=new_name, deletion_reason="not needed")
    assert gone.metadata.status == "DELETED"
    approver = client.acting_as(role="approver", actor="carol")
    approver.deprecate_feature_metadata(feature_name=name, deprecation_reason="old")
    # Read just now (_reads): once a worker has flushed its counts, only a forced retirement
    # passes the guard.
    retired = approver.retire_feature_metadata(
        feature_name=name, retirement_reason="gone", force=True
    )
    assert retired.new_status == "RETIRED"


def test_every_trust_mode_operation_answers_typed_results(service: Service, tmp_path: Path):
    client = _recording(service.url, role="developer")
    assert client.health().status == "healthy" and client.livez().status == "alive"
    assert "feature_gateway_http_requests_total" in client.metrics()
    me = client.whoami()
    assert (me.auth, me.principal, me.roles, me.credential) == ("trust", None, ["developer"], None)
    name = "client_walk:trips_today:1"
    _workflow(client, name)
    _reads(client, name)
    _catalog(client, name)
    events = client.list_events(feature_name=name, limit=1000).events
    assert [e.type for e in events][:2] == ["feature.create", "feature.update"]
    assert client.called == set(OPERATIONS) - _token_mode_only(tmp_path)


def test_every_token_mode_operation_answers_typed_results(token_service: Service, tmp_path):
    admin = _recording(token_service.url, token=token_service.token("root", "admin"))
    issued = admin.create_token(
        principal="ci", roles=["developer"], groups=["growth"], description="CI job"
    )
    assert issued.token.startswith("fmg_") and issued.metadata.principal == "ci"
    assert issued.metadata.groups == ["growth"]
    assert issued.metadata.token_id in [t.token_id for t in admin.list_tokens().tokens]
    hook = admin.create_webhook(url="http://127.0.0.1:9/hook", event_types=["feature.create"])
    assert hook.secret.startswith("whsec_") and hook.webhook.active
    developer = Client(token_service.url, token=issued.token)
    me = developer.whoami()
    assert (me.principal, me.roles, me.groups) == ("ci", ["developer"], ["growth"])
    assert me.auth == "token"
    assert me.credential == f"token:{issued.metadata.token_id}"
    developer.create_feature_metadata(feature_name="client_token:f:1", feature_type="batch",
                                      feature_data_type="float", query="SELECT a FROM t",
                                      description="queues a delivery")  # fmt: skip
    webhook_id = hook.webhook.webhook_id
    assert [w.webhook_id for w in admin.list_webhooks().webhooks] == [webhook_id]
    assert admin.get_webhook(webhook_id=webhook_id).webhook.url == "http://127.0.0.1:9/hook"
    (delivery,) = admin.list_deliveries(webhook_id=webhook_id).deliveries
    again = admin.redeliver(webhook_id=webhook_id, delivery_id=delivery.delivery_id)
    assert again.delivery.state == "pending"
    assert admin.delete_webhook(webhook_id=webhook_id).webhook.webhook_id == webhook_id
    revoked = admin.revoke_token(token_id=issued.metadata.token_id)
    assert revoked.metadata.revoked_time is not None
    assert admin.called >= _token_mode_only(tmp_path)
