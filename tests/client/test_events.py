"""``client.events()`` against a real gunicorn on both databases: every event once, in
order, resumable from the cursor after any event, following new events, and through a
server killed and restarted in the middle of the feed."""

from __future__ import annotations

import threading

from feature_gateway_client import Client, RetryPolicy
from tests.client.support import Service

PATIENT = RetryPolicy(deadline_s=60, timeout_s=5, base_delay_s=0.1, max_delay_s=1)


def _changes(client: Client, prefix: str, count: int) -> None:
    for i in range(count):
        name = f"{prefix}:f{i}:1"
        client.create_feature_metadata(feature_name=name, feature_type="batch",
                                       feature_data_type="integer", query="SELECT a FROM t",
                                       description="events")  # fmt: skip
        client.update_feature_metadata(feature_name=name, description="events, edited")


def _all_ids(client: Client) -> list[str]:
    return [event.id for event in client.events(page_size=1000)]


def test_the_cursor_after_each_event_resumes_exactly_after_it(service: Service) -> None:
    client = Client(service.url, role="developer", actor="dev")
    _changes(client, "client_events_cursor", 4)
    everything = _all_ids(client)
    stream = client.events(page_size=3)
    assert stream.cursor is None  # nothing read yet: from the beginning
    cursors = []
    for event in stream:
        cursors.append((event.id, stream.cursor))
    assert [event_id for event_id, _ in cursors] == everything
    for position, (_, cursor) in enumerate(cursors):
        rest = [event.id for event in client.events(after=cursor, page_size=3)]
        assert rest == everything[position + 1 :], f"after event {position}"


def test_a_stream_stopped_mid_page_resumes_from_its_stored_cursor(service: Service) -> None:
    client = Client(service.url, role="developer", actor="dev")
    _changes(client, "client_events_resume", 3)
    everything = _all_ids(client)
    first = client.events(page_size=4)
    seen = []
    for event in first:
        seen.append(event.id)
        if len(seen) == 6:
            break
    stored = first.cursor
    seen += [event.id for event in client.events(after=stored, page_size=4)]
    assert seen == everything


def test_filters_and_follow_wait_for_new_events(service: Service) -> None:
    client = Client(service.url, role="developer", actor="dev")
    _changes(client, "client_events_follow", 1)
    start = client.list_events(limit=1000).next_cursor
    later = threading.Timer(0.5, _changes, args=(client, "client_events_follow_late", 1))
    later.start()
    stream = client.events(after=start, types=["feature.update"], follow=True,
                           poll_interval_s=0.1)  # fmt: skip
    event = next(iter(stream))
    later.join()
    assert (event.type, event.feature_name) == ("feature.update", "client_events_follow_late:f0:1")


def test_a_server_killed_and_restarted_mid_feed_loses_and_repeats_nothing(service: Service):
    writer = Client(service.url, role="developer", actor="dev")
    _changes(writer, "client_events_restart", 6)
    reader = Client(service.url, role="developer", retry=PATIENT)
    stream = reader.events(page_size=5)
    seen = []
    for event in stream:
        seen.append(event.id)
        if len(seen) == 7:  # in the middle of the second page
            service.live.kill()
            threading.Timer(1.5, service.start, kwargs={"port": service.live.port}).start()
    assert seen == _all_ids(writer)
    assert len(seen) == len(set(seen)) >= 12
    _changes(writer, "client_events_restart_after", 1)  # and it goes on from where it was
    assert [e.feature_name for e in reader.events(after=stream.cursor)] == [
        "client_events_restart_after:f0:1"
    ] * 2
