"""A request's body of declared length is read into one buffer of that length
(``framework_adapter.read_body_in_one_buffer``, called by the request hooks for a body over
64 kB; docs/performance.md, "i30-refused"): the same bytes and the same errors as werkzeug's
own reading, which held the body twice at its peak."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from typing import Any

import flask
import pytest
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from feature_gateway.framework_adapter import read_body_in_one_buffer

BODY = bytes(range(256)) * 8_000  # 2 MB, every byte value


class ReadOnly:
    """A server's input with ``read`` only, as gunicorn's ``Body``."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1_000))  # a short read, as a socket gives


def _environ(
    sent: bytes, declared: int | None, *, terminated: bool, read_only: bool = False
) -> dict[str, Any]:
    environ = EnvironBuilder(
        method="POST", data=b"", content_type="application/json"
    ).get_environ()
    environ["wsgi.input"] = ReadOnly(sent) if read_only else io.BytesIO(sent)
    environ.pop("CONTENT_LENGTH", None)
    environ.pop("wsgi.input_terminated", None)
    if declared is not None:
        environ["CONTENT_LENGTH"] = str(declared)
    if terminated:  # the server ends the stream (gunicorn): werkzeug's limit is a maximum
        environ["wsgi.input_terminated"] = True
    return environ


def _request(environ: dict[str, Any], in_one_buffer: bool) -> flask.Request:
    request = flask.Request(environ)
    request.max_content_length = 3_000_000  # the app's, always set
    declared = request.content_length
    if in_one_buffer and declared:
        read_body_in_one_buffer(request, declared)
    return request


def _read(environ: dict[str, Any], in_one_buffer: bool) -> Any:
    try:
        request = _request(environ, in_one_buffer)
        return request.get_data(), request.get_data(as_text=True)[:10]
    except (ClientDisconnected, RequestEntityTooLarge) as exc:
        return type(exc)


@pytest.mark.parametrize("terminated", [False, True])
@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize(
    "sent, declared",
    [
        (BODY, len(BODY)),
        (b'{"a": 1}', 8),
        (BODY[:1_000], 5_000),  # cut short
        (BODY, 3_000_001),  # over the request's limit
        (BODY[:70_000], None),  # chunked: werkzeug's own reading
        (b"", 0),
    ],
    ids=["2 MB", "small", "cut short", "over the limit", "no length", "empty"],
)
def test_a_body_reads_as_werkzeug_reads_it(
    sent: bytes, declared: int | None, terminated: bool, read_only: bool
):
    def environ() -> dict[str, Any]:
        return _environ(sent, declared, terminated=terminated, read_only=read_only)

    ours, werkzeugs = _read(environ(), True), _read(environ(), False)
    assert ours == werkzeugs
    if isinstance(ours, tuple):
        assert type(ours[0]) is bytes


def test_the_body_read_is_the_one_the_form_parser_reads():
    form = b"a=1&b=" + b"x" * 100_000
    environ = EnvironBuilder(
        method="POST", data=form, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    request = _request(environ, True)
    assert request.get_data() == form
    assert request.form.to_dict() == {"a": "1", "b": "x" * 100_000}


def _peak(read: Callable[[], bytes]) -> int:
    tracemalloc.start()
    try:
        assert read() == BODY
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_body_is_held_once_while_it_is_read(read_only: bool):
    def peak(in_one_buffer: bool) -> int:
        environ = _environ(BODY, len(BODY), terminated=True, read_only=read_only)
        return _peak(lambda: _request(environ, in_one_buffer).get_data())

    assert peak(True) < 1.05 * len(BODY)
    assert peak(False) > 1.9 * len(BODY)  # werkzeug's: a growing buffer, then a copy
