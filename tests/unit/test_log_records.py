"""``observability.RecordMaker``: the access line's records are the records
``Logger.makeRecord`` makes, only made faster; and the line written without a record, when
the service's own handler is the only one, is the line of that record."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator

import flask
import orjson
import pytest

from feature_gateway.observability import JsonLineFormatter, RecordMaker
from feature_gateway.web.request_hooks import RequestIdFilter

FIELDS = {"method": "GET", "path": "/livez", "status": 200, "request_id": "r-1", "role": None}


def _made_both_ways() -> tuple[logging.LogRecord, logging.LogRecord]:
    logger = logging.getLogger("feature_gateway.test_records")
    maker = RecordMaker(logger, logging.INFO, "request", __file__)
    made = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, "request", (), None, extra=dict(FIELDS)
    )
    return made, maker.make(dict(FIELDS))


def test_a_prepared_record_has_every_attribute_of_a_made_one_with_the_same_values():
    made, prepared = _made_both_ways()

    assert type(prepared) is logging.LogRecord
    assert list(vars(prepared)) == list(vars(made))  # the same attributes, in the same order
    timed = {"created", "msecs", "relativeCreated"}
    assert {k: v for k, v in vars(prepared).items() if k not in timed} == {
        k: v for k, v in vars(made).items() if k not in timed
    }
    assert prepared.created == pytest.approx(made.created, abs=1.0)
    assert prepared.relativeCreated == pytest.approx(made.relativeCreated, abs=1000.0)
    assert 0 <= prepared.msecs < 1000


def test_a_prepared_record_writes_the_same_json_line():
    made, prepared = _made_both_ways()
    prepared.created, prepared.msecs = made.created, made.msecs

    formatter = JsonLineFormatter()
    assert formatter.format(prepared) == formatter.format(made)


def test_a_prepared_record_names_the_thread_it_was_made_in():
    logger = logging.getLogger("feature_gateway.test_records")
    maker = RecordMaker(logger, logging.INFO, "request", __file__)
    records: list[logging.LogRecord] = []
    worker = threading.Thread(target=lambda: records.append(maker.make({})), name="worker-7")
    worker.start()
    worker.join()

    assert (records[0].threadName, records[0].thread) == ("worker-7", worker.ident)


@pytest.fixture
def custom_record_factory() -> Iterator[None]:
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.trace_id = "t-1"  # as a tracing library's factory would add
        return record

    logging.setLogRecordFactory(factory)
    yield
    logging.setLogRecordFactory(previous)


def test_a_record_factory_set_by_someone_else_is_still_used(custom_record_factory):
    _, prepared = _made_both_ways()

    assert prepared.trace_id == "t-1"  # type: ignore[attr-defined]


@pytest.fixture
def service_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger configured as ``configure_logging`` configures the service's: one
    StreamHandler writing JSON lines, stamping request ids, into a buffer."""
    parent = logging.getLogger("feature_gateway.test_direct")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(RequestIdFilter())
    parent.addHandler(handler)
    parent.propagate = False
    parent.setLevel(logging.INFO)
    yield logging.getLogger("feature_gateway.test_direct.access"), buffer
    parent.removeHandler(handler)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    now = 1_765_000_000.0625
    monkeypatch.setattr(time, "time", lambda: now)
    return now


def test_a_line_written_directly_is_the_line_of_the_record(service_log, fixed_clock):
    logger, buffer = service_log
    maker = RecordMaker(logger, logging.INFO, "request", __file__)
    maker.log(dict(FIELDS))

    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, "request", (), None, extra=dict(FIELDS)
    )
    assert buffer.getvalue() == JsonLineFormatter().format(record) + "\n"
    assert json.loads(buffer.getvalue())["time"].endswith(",062")


def test_another_handler_or_filter_gets_the_record_itself(service_log, fixed_clock):
    logger, buffer = service_log
    maker = RecordMaker(logger, logging.INFO, "request", __file__)
    seen: list[logging.LogRecord] = []

    logger.addFilter(lambda record: seen.append(record) or True)
    maker.log(dict(FIELDS))
    assert [record.getMessage() for record in seen] == ["request"]
    direct = buffer.getvalue()
    logger.filters.clear()

    buffer.truncate(0)
    buffer.seek(0)
    maker.log(dict(FIELDS))
    assert buffer.getvalue() == direct  # the same line either way


def test_a_line_without_the_request_id_is_stamped_with_it(service_log):
    logger, buffer = service_log
    maker = RecordMaker(logger, logging.INFO, "status changed", __file__)
    with flask.Flask(__name__).test_request_context():
        flask.g.request_id = "r-2"
        maker.log({"event": "status_change"})  # no request id: the filter stamps it

    assert json.loads(buffer.getvalue())["request_id"] == "r-2"


def test_nothing_is_written_below_the_level(service_log):
    logger, buffer = service_log
    RecordMaker(logger, logging.DEBUG, "request", __file__).log(dict(FIELDS))

    assert buffer.getvalue() == ""


@pytest.mark.parametrize(
    "extra",
    [
        {"method": "GET", "path": '/é\u2028"x', "status": 200, "duration_ms": 0.5, "role": None},
        {},  # nothing to append: written whole
        {"time": "mine", "status": 200},  # a key of the line's own: written whole
        {"value": float("nan"), "other": object(), 3: "non-string key"},
    ],
)
@pytest.mark.parametrize("created", [1_765_000_000.0, 1_765_000_000.0625, 1_765_000_001.9999])
def test_a_plain_line_is_the_line_of_its_fields_written_whole(extra, created):
    formatter = JsonLineFormatter()
    msecs = int((created - int(created)) * 1000)
    whole = {
        "time": formatter.formatTime(logging.makeLogRecord({"created": created, "msecs": msecs})),
        "level": "INFO",
        "logger": "feature_gateway.access",
        "message": 'request "quoted"',
        **extra,
    }
    expected = orjson.dumps(whole, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    for _ in range(2):  # the second time from what the first kept
        line = formatter.plain_line(
            created, "INFO", "feature_gateway.access", 'request "quoted"', extra
        )
        assert line == expected
