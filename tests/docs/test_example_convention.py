"""The documented-examples convention: what counts as an example, and when a response matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown_examples import (
    ANY,
    ConventionError,
    Example,
    examples_in,
    parse_curl_output,
    parse_response_block,
    response_mismatches,
)

PAGE = """# A page

```bash
make run
```

```bash
curl -i localhost:8000/health
```

Prose between a request and its response is fine.

```http
HTTP/1.1 200 OK
Content-Type: application/json
X-Request-ID: …

{"status": "healthy", "version": …, "database": "ok"}
```
"""


def _examples(tmp_path: Path, text: str) -> list[Example]:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return list(examples_in(page, tmp_path))


def _curl_output(status: str, body: str, headers: str = "Content-Type: application/json") -> str:
    return f"{status}\r\nServer: gunicorn\r\n{headers}\r\n\r\n{body}"


def _mismatches(shown: str, status: str, body: str) -> list[str]:
    return response_mismatches(
        parse_response_block(shown, "page.md:1"), parse_curl_output(_curl_output(status, body))
    )


def test_a_curl_block_and_the_http_block_after_it_are_one_example(tmp_path: Path) -> None:
    [example] = _examples(tmp_path, PAGE)
    assert example.where == "page.md:7"
    assert example.command == "curl -i localhost:8000/health\n"
    assert example.expected.status_line == "HTTP/1.1 200 OK"
    assert example.expected.headers == {"content-type": "application/json", "x-request-id": "…"}
    assert example.expected.json_body == {"status": "healthy", "version": ANY, "database": "ok"}


def test_a_request_without_a_response_block_breaks_the_convention(tmp_path: Path) -> None:
    with pytest.raises(ConventionError, match=r"page\.md:1: the request is not followed"):
        _examples(tmp_path, "```bash\ncurl -i localhost:8000/livez\n```\n")


def test_a_response_without_a_request_breaks_the_convention(tmp_path: Path) -> None:
    with pytest.raises(ConventionError, match="without a request block"):
        _examples(tmp_path, "```http\nHTTP/1.1 200 OK\n```\n")


def test_two_curl_commands_in_one_block_break_the_convention(tmp_path: Path) -> None:
    with pytest.raises(ConventionError, match="one curl command per request block"):
        _examples(tmp_path, "```bash\ncurl -i a\ncurl -i b\n```\n")


def test_a_body_that_is_not_json_breaks_the_convention() -> None:
    with pytest.raises(ConventionError, match="not JSON"):
        parse_response_block('HTTP/1.1 200 OK\n\n{"a": 1,}', "page.md:1")


def test_a_response_as_shown_matches() -> None:
    assert _mismatches('HTTP/1.1 200 OK\n\n{"a": 1, "b": [true, null]}', "HTTP/1.1 200 OK",
                       '{"b": [true, null], "a": 1}') == []  # fmt: skip


def test_another_status_is_a_mismatch() -> None:
    assert _mismatches("HTTP/1.1 200 OK", "HTTP/1.1 409 CONFLICT", "{}") == [
        "status: the docs show 'HTTP/1.1 200 OK', got 'HTTP/1.1 409 CONFLICT'"
    ]


def test_a_shown_header_must_be_sent_with_the_value_shown() -> None:
    shown = 'HTTP/1.1 200 OK\nContent-Type: application/problem+json\nETag: "2"'
    assert _mismatches(shown, "HTTP/1.1 200 OK", "{}") == [
        "header content-type: the docs show 'application/problem+json', got 'application/json'",
        "header etag: the docs show '\"2\"', got None",
    ]


def test_a_header_value_ending_in_an_ellipsis_matches_what_starts_so() -> None:
    shown = "HTTP/1.1 200 OK\nContent-Type: application/…\nServer: …"
    assert _mismatches(shown, "HTTP/1.1 200 OK", "{}") == []
    assert _mismatches("HTTP/1.1 200 OK\nContent-Type: text/…", "HTTP/1.1 200 OK", "{}") == [
        "header content-type: the docs show 'text/…', got 'application/json'"
    ]


def test_a_text_body_must_hold_each_line_shown() -> None:
    shown = "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n# TYPE up gauge\n…\nup 1"
    text = "Content-Type: text/plain"
    actual = _curl_output("HTTP/1.1 200 OK", "# HELP up\n# TYPE up gauge\nup 1\n", text)
    parsed = parse_response_block(shown, "page.md:1")
    assert response_mismatches(parsed, parse_curl_output(actual)) == []
    missing = _curl_output("HTTP/1.1 200 OK", "# TYPE up gauge\nup 0\n", text)
    assert response_mismatches(parsed, parse_curl_output(missing)) == ["body: no line 'up 1'"]


def test_an_ellipsis_value_matches_any_value_but_not_a_missing_member() -> None:
    shown = 'HTTP/1.1 200 OK\n\n{"time": …, "id": ...}'
    assert _mismatches(shown, "HTTP/1.1 200 OK", '{"time": 1751429485000, "id": "x"}') == []
    assert _mismatches(shown, "HTTP/1.1 200 OK", '{"time": 1}') == ["body.id: missing"]


def test_members_not_shown_are_a_mismatch_unless_an_ellipsis_stands_for_them() -> None:
    actual = '{"a": 1, "b": 2}'
    assert _mismatches('HTTP/1.1 200 OK\n\n{"a": 1}', "HTTP/1.1 200 OK", actual) == [
        "body: members not shown ['b'] (show them, or add … for more)"
    ]
    assert _mismatches('HTTP/1.1 200 OK\n\n{"a": 1, …}', "HTTP/1.1 200 OK", actual) == []


def test_a_trailing_ellipsis_in_a_list_stands_for_more_elements() -> None:
    assert _mismatches("HTTP/1.1 200 OK\n\n[1, …]", "HTTP/1.1 200 OK", "[1, 2, 3]") == []
    assert _mismatches("HTTP/1.1 200 OK\n\n[1]", "HTTP/1.1 200 OK", "[1, 2]") == [
        "body: 2 elements, the docs show 1"
    ]


def test_values_must_match_in_type_as_well() -> None:
    assert _mismatches('HTTP/1.1 200 OK\n\n{"n": 1}', "HTTP/1.1 200 OK", '{"n": true}') == [
        "body.n: the docs show 1, the service answered True"
    ]
    assert _mismatches('HTTP/1.1 200 OK\n\n{"n": 1.0}', "HTTP/1.1 200 OK", '{"n": 1}') == [
        "body.n: the docs show 1.0, the service answered 1"
    ]


def test_an_ellipsis_inside_a_string_is_text() -> None:
    shown = 'HTTP/1.1 200 OK\n\n{"detail": "wait… or \\"...\\""}'
    assert _mismatches(shown, "HTTP/1.1 200 OK", '{"detail": "wait… or \\"...\\""}') == []
    assert _mismatches(shown, "HTTP/1.1 200 OK", '{"detail": "other"}') != []


def test_a_100_continue_before_the_answer_is_skipped() -> None:
    output = "HTTP/1.1 100 Continue\r\n\r\n" + _curl_output("HTTP/1.1 201 CREATED", "{}")
    assert parse_curl_output(output).status_line == "HTTP/1.1 201 CREATED"
