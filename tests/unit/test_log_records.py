"""``observability.RecordMaker``: the access line's records are the records
``Logger.makeRecord`` makes, only made faster."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from feature_gateway.observability import JsonLineFormatter, RecordMaker

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
