"""Structured logs and application metrics shared by the service, the API and gunicorn.

Free of Flask and SQLAlchemy: the services report committed status changes here.
``gunicorn.conf.py`` configures the same JSON line shape for gunicorn's own log.

Metrics use prometheus_client's default registry. Under gunicorn the
``PROMETHEUS_MULTIPROC_DIR`` environment variable (set by ``gunicorn.conf.py`` before
the workers fork) makes every process write its samples to files in that directory, and
``/metrics`` sums the files of all workers; see README, "Health, metrics and logs".
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

events_log = logging.getLogger("feature_gateway.events")

STATUS_CHANGES = Counter(
    "feature_gateway_status_changes_total",
    "Committed feature status changes, by lifecycle trigger and resulting status.",
    ["trigger", "to_status"],
)

# Reads a replica may serve (SPEC §15, db.replicas), counted only when one is configured.
READS = Counter(
    "feature_gateway_replicable_reads_total",
    "Reads a replica may serve, by the server that served them (replica, primary) and why "
    "(replica; on the primary: latest, revision, lagging, down, failed).",
    ["server", "reason"],
)
# The most recent measurement of any live worker: each measures on its own, once a second.
REPLICA_LAG = Gauge(
    "feature_gateway_replica_lag_seconds",
    "How far the read replica is behind the primary, as last measured (+Inf: unknown).",
    multiprocess_mode="livemostrecent",
)
REPLICA_UP = Gauge(
    "feature_gateway_replica_up",
    "1 when the read replica answered its last lag measurement, else 0.",
    multiprocess_mode="livemostrecent",
)


_READ_SERIES: dict[tuple[str, str], Any] = {}


def read_served(server: str, reason: str) -> None:
    series = _READ_SERIES.get((server, reason))
    if series is None:  # labels() validates and locks on every call: made once per series
        series = _READ_SERIES[(server, reason)] = READS.labels(server=server, reason=reason)
    series.inc()


def replica_measured(lag_s: float | None) -> None:
    """Record a measurement of the replica's lag; None: it did not answer."""
    REPLICA_UP.set(0 if lag_s is None else 1)
    REPLICA_LAG.set(float("inf") if lag_s is None else lag_s)


# What every LogRecord carries; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_TIME_FORMAT = logging.Formatter.default_time_format
# ",000" to ",999": a record's milliseconds as logging's default time format writes them.
_MILLISECONDS = tuple(f",{ms:03d}" for ms in range(1000))
# The keys a plain line starts with, which ``extra`` may not repeat for the line to be
# written in two parts (a repeated key keeps its first place with the later value).
_LINE_KEYS = frozenset({"time", "level", "logger", "message"})
_MIDDLES_KEPT = 64


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields.

    The same line shape as python-json-logger's formatter, which gunicorn.conf.py uses for
    gunicorn's own (rare) lines, at a fraction of its cost on the hot path: orjson, and the
    time string made once a second (docs/performance.md, "Figures behind the code").
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""
        self._second_json = ""  # '{"time":"' and the second's text, for plain_line
        # (level, logger, message) → their part of a plain line, written once per call site
        self._middles: dict[tuple[str, str, str], str] = {}

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``logging.Formatter``'s default time format, the strftime part made once a second."""
        return self._time(record.created, int(record.msecs))

    def _time(self, created: float, msecs: int) -> str:
        second = int(created)
        if second != self._second:
            self._new_second(second)
        if 0 <= msecs < 1000:
            return self._second_text + _MILLISECONDS[msecs]
        return f"{self._second_text},{msecs:03d}"

    def _new_second(self, second: int) -> None:
        self._second_text = time.strftime(_TIME_FORMAT, time.localtime(second))
        self._second_json = '{"time":' + orjson.dumps(self._second_text).decode()[:-1]
        self._second = second

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def plain_line(
        self, created: float, level: str, logger: str, message: str, extra: dict[str, Any]
    ) -> str:
        """What ``format`` writes for a record made at ``created`` of a call without
        arguments, exception or stack, given ``extra`` (none of a record's own attributes),
        without the record."""
        second = int(created)
        msecs = int((created - second) * 1000)  # as LogRecord's msecs (gh-89047)
        if extra and 0 <= msecs < 1000 and _LINE_KEYS.isdisjoint(extra):
            if second != self._second:
                self._new_second(second)
            # The same bytes, written in two parts: what is the same on every line of a
            # call (its time's second, level, logger and message) kept written, then
            # ``extra``'s object without its "{" (orjson writes no spaces). Merging the
            # dicts and writing them whole was half of the line's cost.
            middle = self._middles.get((level, logger, message))
            if middle is None:
                middle = self._middle(level, logger, message)
            tail = orjson.dumps(extra, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
            return self._second_json + _MILLISECONDS[msecs] + middle + tail[1:]
        stamp = self._time(created, msecs)
        line = {"time": stamp, "level": level, "logger": logger, "message": message, **extra}
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def _middle(self, level: str, logger: str, message: str) -> str:
        written = orjson.dumps({"level": level, "logger": logger, "message": message}).decode()
        middle = '",' + written[1:-1] + ","
        if len(self._middles) < _MIDDLES_KEPT:  # call sites: a handful
            self._middles[(level, logger, message)] = middle
        return middle


def json_formatter() -> logging.Formatter:
    return JsonLineFormatter()


# What differs between two records of the same call: when, and in which thread and process.
_PER_RECORD = ("created", "msecs", "relativeCreated", "thread", "threadName", "processName",
               "process")  # fmt: skip


class RecordMaker:
    """Makes the records of one logging call (logger, level, message, source) as
    ``Logger.makeRecord`` does, the same attributes with the same values, at half its cost:
    ``LogRecord.__init__`` works out again for every record what is the same for all of them
    (the file name and module from the path, the level's name). For a line written on every
    request (the access line). ``extra``'s keys must not be a record's own attributes (which
    ``makeRecord`` would refuse). A record factory set with ``logging.setLogRecordFactory``
    (which may add attributes), or ``logging.logThreads`` and the like switched off, and
    the records are made by ``makeRecord``, at its cost.
    """

    def __init__(self, logger: logging.Logger, level: int, msg: str, pathname: str) -> None:
        self._logger = logger
        self._level = level
        self._call = (logger.name, level, pathname, 0, msg, (), None)
        self._reference = logging.LogRecord(*self._call)
        self._constant = {
            key: value for key, value in self._reference.__dict__.items() if key not in _PER_RECORD
        }

    def log(self, extra: dict[str, Any]) -> None:
        """Log the call with ``extra``, as ``logger.handle(self.make(extra))`` would.

        When the one handler the record would reach is the service's own
        (``feature_gateway.app.configure_logging``: a ``StreamHandler`` writing
        ``JsonLineFormatter`` lines, whose filters only stamp attributes ``extra`` carries
        already), the line is written to its stream directly, under its lock and flushed at
        once, as its ``emit`` would: the same line, without the record and logging's calls
        around it (the access line's cost halved, docs/performance.md "i28-fixed"). Any
        other configuration (another handler, a logger's filter, a test's capture) and the
        record is made and handled."""
        logger = self._logger
        if not logger.isEnabledFor(self._level):
            return
        handler = self._direct_handler(extra)
        if handler is None:
            logger.handle(self.make(extra))
            return
        formatter: JsonLineFormatter = handler.formatter  # type: ignore[assignment]
        name, _, _, _, msg, _, _ = self._call
        # The handler's lock taken as its acquire and release take it (a StreamHandler's
        # own, as _direct_handler found), without their calls.
        lock = handler.lock
        if lock:
            lock.acquire()
        try:
            line = formatter.plain_line(time.time(), self._reference.levelname, name, msg, extra)
            stream = handler.stream
            stream.write(line + handler.terminator)
            if stream and hasattr(stream, "flush"):
                stream.flush()
        except RecursionError:  # as StreamHandler.emit
            raise
        except Exception:
            handler.handleError(self.make(extra))
        finally:
            if lock:
                lock.release()

    def _direct_handler(self, extra: dict[str, Any]) -> logging.StreamHandler[Any] | None:
        """The service's own handler when it is the only one a record of this logger would
        reach (``Logger.callHandlers``' walk) and nothing else would look at the record;
        else None."""
        logger: logging.Logger | None = self._logger
        if self._logger.filters or logging.getLogRecordFactory() is not logging.LogRecord:
            return None
        found = None
        while logger is not None:
            for handler in logger.handlers:
                if found is not None:
                    return None
                found = handler
            if not logger.propagate:
                break
            logger = logger.parent
        if (
            type(found) is not logging.StreamHandler
            or type(found.formatter) is not JsonLineFormatter
            or found.level > self._level
        ):
            return None
        # Only filters stamping what ``extra`` carries (loops, not generators: this runs on
        # every request).
        for each in found.filters:
            stamps = getattr(each, "STAMPS", None)
            if stamps is None:
                return None
            for key in stamps:
                if key not in extra:
                    return None
        return found

    def make(self, extra: dict[str, Any]) -> logging.LogRecord:
        if logging.getLogRecordFactory() is not logging.LogRecord or not (
            logging.logThreads and logging.logProcesses and logging.logMultiprocessing
        ):  # someone else's factory, or attributes switched off: makeRecord knows them
            return self._logger.makeRecord(*self._call, extra=extra)
        now = time.time()
        record = logging.LogRecord.__new__(logging.LogRecord)
        values = record.__dict__
        values.update(self._constant)
        values["created"] = now
        values["msecs"] = int((now - int(now)) * 1000) + 0.0  # as LogRecord (gh-89047)
        reference = self._reference
        values["relativeCreated"] = reference.relativeCreated + (now - reference.created) * 1000
        values["thread"] = threading.get_ident()
        values["threadName"] = threading.current_thread().name
        multiprocessing = sys.modules.get("multiprocessing")
        values["processName"] = (
            multiprocessing.current_process().name if multiprocessing else "MainProcess"
        )
        values["process"] = os.getpid()
        values.update(extra)
        return record


_STATUS_SERIES: dict[tuple[str, str], Any] = {}
_status_records = RecordMaker(events_log, logging.INFO, "status changed", __file__)


def status_changed(
    *,
    feature_name: str,
    from_status: str | None,
    to_status: str,
    trigger: str,
    actor: str,
    actor_role: str | None,
) -> None:
    """Count and log one status change; call only once its transaction has committed.

    The record is made as the access line's is (``RecordMaker``) and handed to the logger
    (its filters, then its handlers, as ``Logger.info`` would): every write logs one."""
    series = _STATUS_SERIES.get((trigger, to_status))
    if series is None:  # labels() validates and locks on every call: made once per series
        series = STATUS_CHANGES.labels(trigger=trigger, to_status=to_status)
        _STATUS_SERIES[(trigger, to_status)] = series
    series.inc()
    if events_log.isEnabledFor(logging.INFO):
        fields = {
            "event": "status_change",
            "feature_name": feature_name,
            "from_status": from_status,
            "to_status": to_status,
            "trigger": trigger,
            "actor": actor,
            "role": actor_role,
        }
        events_log.handle(_status_records.make(fields))
