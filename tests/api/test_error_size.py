"""An error answer stays small whatever the request (SPEC §3): at most 50 messages, then a
count of the rest; a rule broken a hundred thousand times over is one message.

Each request here used to get an answer many times its own size (16 MB for 120,000 bad tag
keys, 44 MB for 170,000 bad feature names) and to push a worker past 130 MB.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from feature_gateway.errors import MAX_ERROR_MESSAGES
from tests.conftest import SEED_FEATURE


def _refused(client: FlaskClient, path: str, body: bytes) -> dict[str, Any]:
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert len(response.get_data()) < 16_000  # whatever the size of the request
    return response.get_json()  # type: ignore[no-any-return]


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [m for inner in errors.values() for m in _messages(inner)]
    if isinstance(errors, list):
        return [m for inner in errors for m in _messages(inner)]
    return [errors]


def test_a_hundred_thousand_bad_tag_keys_are_one_message(client: FlaskClient, make_feature):
    name = make_feature()["feature_name"]
    tags = {f"K{i:05d}": "" for i in range(120_000)}
    body = orjson.dumps(
        {"feature_name": name, "last_updated_by": "dev", "user_role": "developer", "tags": tags}
    )
    problem = _refused(client, "/update_feature_metadata", body)
    assert problem["errors"] == {"tags": ["At most 20 tags; got 120,000."]}


def test_a_hundred_thousand_bad_tag_filter_pairs_are_one_message(client: FlaskClient):
    tags = {f"K{i:05d}": None for i in range(100_000)}
    body = orjson.dumps({"user_role": "developer", "tags": tags})
    problem = _refused(client, "/get_all_feature_metadata", body)
    assert problem["errors"] == {"tags": ["At most 20 tag pairs; got 100,000."]}


def test_more_feature_names_than_a_request_may_hold_are_one_message(client: FlaskClient):
    body = orjson.dumps({"features": [f"x{i}" for i in range(170_000)], "entities": {"id": [1]}})
    problem = _refused(client, "/features", body)
    assert problem["errors"] == {"features": ["At most 1,000 features per request, got 170,000."]}


def test_past_fifty_messages_the_rest_are_counted_not_listed(client: FlaskClient):
    # 1,000 names is within the limit, and each of them is malformed: 1,000 messages.
    body = orjson.dumps({"features": [f"x{i}" for i in range(1_000)], "entities": {"id": [1]}})
    problem = _refused(client, "/features", body)
    assert len(_messages(problem["errors"])) == MAX_ERROR_MESSAGES
    assert problem["errors_omitted"] == 1_000 - MAX_ERROR_MESSAGES
    assert list(problem["errors"]["features"])[:2] == ["0", "1"]  # the first ones, in order


def test_an_answer_with_few_messages_says_nothing_was_omitted(client: FlaskClient):
    body = orjson.dumps({"features": ["x0", "x1"], "entities": {"id": [1]}})
    problem = _refused(client, "/features", body)
    assert len(_messages(problem["errors"])) == 2
    assert "errors_omitted" not in problem


@pytest.mark.parametrize("count", [3, MAX_ERROR_MESSAGES + 1, 150_000])
def test_unknown_fields_are_named_and_past_fifty_are_one_message(
    client: FlaskClient, count: int
) -> None:
    unknown = {f"u{i}": 0 for i in range(count)}
    problem = _refused(
        client, "/create_feature_metadata", orjson.dumps({**SEED_FEATURE, **unknown})
    )
    if count <= MAX_ERROR_MESSAGES:
        assert problem["errors"] == {key: ["Unknown field."] for key in unknown}
    else:
        [message] = problem["errors"]["_schema"]
        assert message.startswith(f"{count:,} fields are not part of this request ('u0', ")
        assert len(problem["detail"]) < 300


def test_the_detail_names_at_most_ten_invalid_fields(client: FlaskClient):
    unknown = {f"u{i:02d}": 0 for i in range(40)}
    problem = _refused(
        client, "/create_feature_metadata", orjson.dumps({**SEED_FEATURE, **unknown})
    )
    assert problem["detail"] == (
        "The request has invalid or missing fields: u00, u01, u02, u03, u04, u05, u06, u07, "
        "u08, u09 and 30 more."
    )
