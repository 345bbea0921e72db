"""Every override of a private hook of Flask, flask-smorest, webargs or marshmallow, and
every private attribute of prometheus_client the service reads.

Everywhere else the service uses the libraries' documented hooks only. What is bent here
was read in the versions in ``CHECKED_AGAINST``; ``tests/unit/test_framework_adapter.py``
fails when an installed version leaves them (re-read the hooks, then update the table), and
``tests/unit/test_declarations.py`` fails when a private hook is overridden anywhere else.

- ``OrjsonBodyParser``: webargs parses JSON bodies with the standard library; orjson is
  faster and strict (a lone surrogate escape, ``NaN`` or ``Infinity`` is malformed: 400).
  A large body goes to the schema as its outline (``api.body_outline``) when that
  answers alike, without being built (webargs' ``load_json``, given the schema).
- ``read_body_in_one_buffer``: werkzeug's ``get_data`` reads the body by
  ``LimitedStream.readall``, 64 kB pieces into a growing ``bytearray`` then copied into
  ``bytes``: two copies of a 2 MB body at once. A large body of declared length is read
  into one buffer of that length and handed to werkzeug's cache (``_cached_data``), where
  its readers (``get_data``, the form parser) find it.
- ``DocCallbacksBlueprint``: flask-smorest has no public way to post-process each
  operation's document; its own callbacks sit in ``Blueprint._prepare_doc_cbks``. Its
  ``alt_response`` documents a response and wraps the view in a function that only calls
  it (through ``current_app.ensure_sync``, a proxy lookup): a view documenting four
  alternative responses paid four such calls per request, ``doc`` (each operation's
  ``operationId``) and ``arguments`` one more each. The view is handed on as a copy of
  itself carrying what the wrapper would carry (its attributes, ``__wrapped__`` and the
  doc), without the call.
- ``DocCallbacksBlueprint.response``: flask-smorest's ``response`` wrapper calls the view
  through ``current_app.ensure_sync`` and keeps each dump in ``g`` for its own ETag feature
  (unused: ``api.revisions`` sets ETags); the view's answer is made as that wrapper makes
  it (``unpack_tuple_response``, the schema's dump, ``jsonify``, the status and headers),
  without the two lookups. The doc is flask-smorest's own.
- ``documented_statuses`` and ``mark_operation``: flask-smorest keeps what its decorators
  document in a view's ``_apidoc`` and hands it to the doc callbacks; ``ApiBlueprint`` reads
  the statuses documented so far and marks keyed writes there for its own doc callback.
- ``OwnErrorResponsesApi``: flask-smorest registers its error responses as
  application/json and an ``X-Pagination`` header component the service does not use.
- ``DirectDumpSchema``: marshmallow's per-field dispatch was most of a list page's time
  (docs/performance.md, "Figures behind the code"); rows whose values are already JSON
  scalars are copied instead, and a page or envelope of them takes the rows as they are
  (a dict given to ``dump`` without marshmallow's layer around ``_serialize``, when the
  schema has no dump hooks).
- ``OrjsonProvider``: Flask's JSON responses written by orjson (batch values dominate
  latency); ``response`` reuses the provider's own argument handling.
- ``schema_validators_if_plain`` and ``PlainLoadSchema``: a values request's schema
  (``api.values.schemas``) and a request naming one feature (``shapes.role_schemas``) load
  a body with no problem by their fields alone when marshmallow's hooks on them
  (``_hooks``, resolved per class) would not change that body: it reads which there are.
  Each field is loaded by ``deserialized``: the steps of marshmallow's
  ``Field.deserialize`` (its missing and null checks, the field's ``pre_load``,
  ``_deserialize``, ``validators`` and ``post_load``) done directly, without the ``And`` of
  its validators that ``_validate`` makes on every load (docs/performance.md, "i32-values").
- ``json_response`` and ``set_header``: werkzeug's response constructor sets each header
  through ``Headers.__setitem__`` (a scan for the name, a regular expression over the
  value) and formats the status line again; a JSON response is built with its attributes
  set as the constructor sets them (``Headers._list``, ``_status``, ``_status_code``,
  ``_on_close``), and the two headers every request adds are appended to ``_list`` when
  absent. ``_set_status_and_headers`` adds a view's dict of headers without
  ``Headers.extend``'s walk of a mapping.
- ``RequestBehindProxyFlask``: Flask's own per-request steps read attributes of its
  request proxies, each an ``AttributeError`` made and dropped; they are written again as
  Flask 3.1 writes them (``FLASK_STEPS_READ``: their source's digests), reading the request
  behind the proxy, and the request context's ``_after_request_functions`` and ``_session``.
- ``metric_value`` and ``histogram_values``: prometheus_client's ``inc``, ``dec`` and
  ``observe`` check that a metric is observable, the amount is not negative and an
  exemplar valid, then add to the metric's value objects (``_value``; a histogram's
  ``_sum`` and the ``_buckets`` of its ``_upper_bounds``), each under its own lock, in this
  process or in the worker's file under PROMETHEUS_MULTIPROC_DIR. ``web.metrics`` adds to
  them directly for the request metrics, whose checks always pass (half of recording a
  request, docs/performance.md "i30-read").
"""

from __future__ import annotations

import functools
import inspect
import io
import itertools
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import flask
import flask.globals
import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider
from flask.sansio.scaffold import _sentinel as _SENTINEL
from flask.signals import request_tearing_down
from flask_smorest import Api, Blueprint
from flask_smorest.utils import (
    resolve_schema_instance,
    set_status_and_headers_in_response,
    unpack_tuple_response,
)
from marshmallow import Schema, ValidationError, fields, missing
from marshmallow.decorators import (
    POST_DUMP,
    POST_LOAD,
    PRE_DUMP,
    PRE_LOAD,
    VALIDATES,
    VALIDATES_SCHEMA,
)
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import Headers
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response as WerkzeugResponse
from werkzeug.wsgi import LimitedStream

from feature_gateway.api.body_outline import (
    OUTLINED_FROM_BYTES,
    opens_past_orjsons_depth,
    outline_for,
)

CHECKED_AGAINST = {
    "werkzeug": "3.1",
    "flask": "3.1",
    "flask-smorest": "0.47",
    "webargs": "8.7",
    "marshmallow": "4.4",
    "prometheus-client": "0.26",
}

DocCallback = Callable[..., dict[str, Any]]
F = TypeVar("F", bound=Callable[..., Any])
# A body is read from the server this much at a time (werkzeug's own piece).
BODY_PIECE_BYTES = 64 * 1024


def request_behind(req: Any) -> flask.Request:
    """The request webargs hands a hook (Flask's ``request`` proxy, or None for it), read
    behind the proxy: an attribute read through it is an AttributeError made and dropped
    (``web.context``)."""
    proxy_or_request = flask.request if req is None else req
    if isinstance(proxy_or_request, LocalProxy):
        return proxy_or_request._get_current_object()  # type: ignore[no-any-return]
    return proxy_or_request


def read_body_in_one_buffer(request: flask.Request, declared: int) -> None:
    """Read ``request``'s body of ``declared`` length into one buffer of that length and
    leave it where werkzeug's ``get_data`` and form parser find it (``_cached_data``):
    werkzeug's ``readall`` held the body twice while it read it (docs/performance.md,
    "i30-refused"). The same bytes, and the same errors while reading: 413 over
    ``max_content_length`` from the stream, ``ClientDisconnected`` for a body cut short.
    Only werkzeug's limited stream is read (the app sets a limit), not a server's own."""
    stream = request.stream
    if isinstance(stream, LimitedStream):
        request._cached_data = _read_whole(stream, declared)


def _read_whole(stream: LimitedStream, length: int) -> bytes:
    """Up to ``length`` bytes of ``stream`` (werkzeug's ``LimitedStream``: of that length,
    or of the app's maximum when the server ends the stream itself, as gunicorn does), read
    into the bytes object handed back: sized here once, and handed over by
    ``BytesIO.getvalue`` without a copy (CPython's ``BytesIO`` shares a buffer of exactly
    its size; ``tests/unit/test_body_reading.py`` checks the peak)."""
    buffer = io.BytesIO()
    buffer.seek(length - 1)
    buffer.write(b"\0")
    read = 0
    with buffer.getbuffer() as view:
        while read < length:
            # io.RawIOBase.readinto takes any writable buffer (werkzeug's hint: bytearray)
            got = stream.readinto(view[read : read + BODY_PIECE_BYTES])  # type: ignore[arg-type]
            if not got:  # werkzeug's stream raised already, unless its limit is a maximum
                break
            read += got
    if read < length:
        buffer.truncate(read)
    return buffer.getvalue()


class OrjsonBodyParser(FlaskParser):
    """``FlaskParser`` reading JSON bodies with orjson."""

    def parse(
        self,
        argmap: Any,
        req: Any = None,
        *,
        location: str | None = None,
        unknown: str | None = core._UNKNOWN_DEFAULT_PARAM,
        validate: Any = None,
        error_status_code: int | None = None,
        error_headers: Mapping[str, str] | None = None,
    ) -> Any:
        """webargs' ``parse``; a JSON body asked for with webargs' defaults (no ``unknown``
        of its own, no validators) parsed by its steps done directly, as webargs 8.7's
        ``parse`` does them: the schema (``_get_schema``), the body (``load_json``),
        ``pre_load``, the schema's ``load`` (with the ``unknown`` webargs gives JSON: none),
        and a refusal handed to ``_on_validation_error``. Without webargs' layers around
        them, a fortieth of a values request (docs/performance.md, "i32-values")."""
        if req is None:
            req = self.get_default_request()
        if (
            (location or self.location) != "json"
            or validate is not None
            or unknown != core._UNKNOWN_DEFAULT_PARAM
            or self.unknown != core._UNKNOWN_DEFAULT_PARAM
            or req is None
        ):
            return super().parse(
                argmap,
                req,
                location=location,
                unknown=unknown,
                validate=validate,
                error_status_code=error_status_code,
                error_headers=error_headers,
            )
        schema = self._get_schema(argmap, req)
        json_unknown = self.DEFAULT_UNKNOWN_BY_LOCATION.get("json")
        load_kwargs: dict[str, Any] = {"unknown": json_unknown} if json_unknown else {}
        try:
            data = self.load_json(req, schema)
            if data is core.missing:
                data = {}
            data = self.pre_load(data, schema=schema, req=req, location="json")
            return schema.load(data, **load_kwargs)
        except ValidationError as error:
            self._on_validation_error(
                error,
                req,
                schema,
                "json",
                error_status_code=error_status_code,
                error_headers=error_headers,
            )
            raise ValueError("_on_validation_error hook did not raise an exception") from error

    def load_json(self, req: flask.Request, schema: Schema) -> Any:
        """webargs' JSON loader (its ``_raw_load_json`` hook, and the layer around it that
        turns the standard library's errors into 400s, written as one). webargs hands it
        Flask's ``request`` proxy: the request behind it is read, not through the proxy
        (``web.context``)."""
        current = request_behind(req)
        if not is_json_request(current):
            return core.missing
        body = current.get_data(cache=True)
        if not body:
            return core.missing  # then required fields are reported missing (422)
        if len(body) >= OUTLINED_FROM_BYTES:
            found = outline_for(schema, body)
            if found is not None:
                return found
            if opens_past_orjsons_depth(body):  # refused as orjson would, without its copy
                too_deep = orjson.JSONDecodeError("depth limit exceeded", "", 0)
                self._handle_invalid_json_error(too_deep, req)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self._handle_invalid_json_error(exc, req)  # aborts with 400


class DocCallbacksBlueprint(Blueprint):  # type: ignore[misc]
    """A flask-smorest ``Blueprint`` that runs extra callbacks over each operation's doc.

    A callback is called as flask-smorest calls its own:
    ``callback(doc, doc_info, api=..., app=..., spec=..., method=..., **kwargs) -> doc``.
    """

    def add_doc_callback(self, callback: DocCallback) -> None:
        self._prepare_doc_cbks.append(callback)

    def alt_response(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        document = super().alt_response(*args, **kwargs)
        return lambda view: _without_call_layer(document(view), view)

    def arguments(
        self,
        schema: Any,
        *,
        location: str = "json",
        content_type: str | None = None,
        required: bool = True,
        description: str | None = None,
        example: Any = None,
        examples: Any = None,
        **kwargs: Any,
    ) -> Callable[[F], F]:
        """flask-smorest's ``arguments``: webargs' ``use_args`` around a call layer carrying
        the doc (like ``alt_response``'s); webargs is handed the view's copy carrying that
        layer's doc instead, with the same arguments flask-smorest hands it."""
        document = super().arguments(
            schema,
            location=location,
            content_type=content_type,
            required=required,
            description=description,
            example=example,
            examples=examples,
            **kwargs,
        )

        def decorator(view: F) -> F:
            parsing = document(view)
            layer = getattr(parsing, "__wrapped__", None)
            if (
                type(view) is not types.FunctionType
                or getattr(layer, "__wrapped__", None) is not view
            ):
                return cast(F, parsing)
            use_args = self.ARGUMENTS_PARSER.use_args(schema, location=location, **kwargs)
            return cast(F, use_args(_without_call_layer(cast(F, layer), view)))

        return decorator

    def response(self, status_code: Any, schema: Any = None, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``response``: documented by it, and answered as its wrapper
        answers, without the lookups that wrapper makes around the view for what the
        service does not use (``current_app.ensure_sync`` for a plain function, and the dump
        kept in ``g`` for flask-smorest's own ETags: ``api.revisions`` sets them)."""
        document = super().response(status_code, schema, **kwargs)
        dumper = resolve_schema_instance(schema)
        prepare = self._prepare_response_content

        def decorator(view: F) -> F:
            documented = document(view)
            if (
                type(view) is not types.FunctionType
                or inspect.iscoroutinefunction(view)
                or getattr(documented, "__wrapped__", None) is not view
            ):
                return cast(F, documented)

            def respond(*args: Any, **kwargs: Any) -> Response:
                raw, status, headers = unpack_tuple_response(view(*args, **kwargs))
                if isinstance(raw, WerkzeugResponse):
                    _set_status_and_headers(raw, status, headers)
                    return raw  # type: ignore[return-value]
                dump = raw if dumper is None else dumper.dump(raw)
                # flask.jsonify's own call, on the app rather than through its proxy (an
                # attribute the proxy lacks is an AttributeError made and dropped).
                app: flask.Flask = flask.current_app._get_current_object()  # type: ignore[attr-defined]
                response: Response = app.json.response(prepare(dump))  # type: ignore[assignment]
                _set_status_and_headers(response, status, headers)
                # (the status setter formats the status line again: only when it differs)
                if status is None and response.status_code != status_code:
                    response.status_code = status_code
                return response

            functools.update_wrapper(respond, view)
            respond.__dict__.update(documented.__dict__)  # __wrapped__, the doc (_apidoc)
            return cast(F, respond)

        return decorator

    def doc(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``doc``, whose wrapper is a call layer like ``alt_response``'s
        (every operation has one: its ``operationId``, ``api.blueprint``)."""
        document = super().doc(*args, **kwargs)
        return lambda view: _without_call_layer(document(view), view)


def set_header(headers: Headers, key: str, value: str) -> None:
    """``headers[key] = value``, as werkzeug's ``Headers.set`` does it, for a plain value
    (printable, so no line break): appended when no header by that name is there, which
    is nearly always, without ``set``'s regular expression over the value and its copy of
    the list's tail; else werkzeug's own ``set`` (7 K instructions against 2 K, on every
    response, docs/performance.md "i31-read")."""
    if type(value) is str and value.isprintable():
        items = headers._list
        wanted = key.lower()
        for name, _ in items:
            if name.lower() == wanted:
                break
        else:
            items.append((key, value))
            return
    headers[key] = value


def _set_status_and_headers(response: WerkzeugResponse, status: Any, headers: Any) -> None:
    """flask-smorest's ``set_status_and_headers_in_response``: headers given as a dict (the
    service's views' ``api.revisions.etag``) added one by one, as ``Headers.extend`` adds
    them, without its walk of any mapping (an ABC check, a generator: 14 K instructions
    against 3 K for one ``ETag``, docs/performance.md "i31-read")."""
    if type(headers) is dict:
        add = response.headers.add
        for key, value in headers.items():
            for one in value if isinstance(value, (list, tuple, set)) else (value,):
                add(key, one)
        headers = None
    if headers or status is not None:
        set_status_and_headers_in_response(response, status, headers)


def _without_call_layer(documented: F, view: F) -> F:
    """``view`` as flask-smorest's doc-only wrapper ``documented`` of it presents it, a new
    function running ``view``'s code directly (the original is left as it was: a view may
    be decorated in more than one chain). Anything but a plain function stays wrapped."""
    if (
        type(view) is not types.FunctionType
        or getattr(documented, "__wrapped__", None) is not view
    ):
        return documented
    clone = types.FunctionType(
        view.__code__, view.__globals__, view.__name__, view.__defaults__, view.__closure__
    )
    clone.__kwdefaults__ = view.__kwdefaults__
    for name in ("__module__", "__qualname__", "__doc__", "__annotations__"):
        setattr(clone, name, getattr(documented, name))
    clone.__dict__.update(documented.__dict__)  # view's attributes, __wrapped__, _apidoc
    return cast(F, clone)


def documented_statuses(view: Callable[..., Any]) -> set[int]:
    """The response statuses flask-smorest's decorators have documented on ``view``."""
    responses = getattr(view, "_apidoc", {}).get("response", {}).get("responses", {})
    return {int(status) for status in responses}


def mark_operation(wrapper: Callable[..., Any], view: Callable[..., Any], mark: str) -> None:
    """Give ``wrapper`` the doc info of ``view`` plus ``mark``, which the doc callbacks
    then find in their ``doc_info`` argument (flask-smorest ignores keys it does not use)."""
    wrapper._apidoc = {**getattr(view, "_apidoc", {}), mark: True}  # type: ignore[attr-defined]


def metric_value(metric: Any) -> Any:
    """The value object a gauge or counter (with its labels, if any) adds to."""
    return metric._value


def histogram_values(histogram: Any) -> tuple[Any, tuple[tuple[float, Any], ...]]:
    """A histogram's (with its labels) sum, and each bucket's upper bound and count, in
    order (the last bound is +Inf): the value objects its ``observe`` adds to."""
    return histogram._sum, tuple(zip(histogram._upper_bounds, histogram._buckets, strict=True))


class RequestBehindProxyFlask(Flask):
    """Flask, its own per-request steps reading the request behind its proxy.

    Flask's ``dispatch_request``, ``preprocess_request``, ``process_response`` and
    ``do_teardown_request`` each read an attribute of a request proxy (``request_ctx.request``,
    ``request.blueprints``): an attribute a proxy lacks is an ``AttributeError`` made and
    dropped before its ``__getattr__`` runs, about 8 K instructions each, 34 K a request
    (docs/performance.md, "i31-read"). They are written here as Flask 3.1 writes them (their
    source's digests in ``FLASK_STEPS_READ``: a Flask that changes one fails
    ``tests/unit/test_framework_adapter.py``), reading the request once through the proxy's
    ``_get_current_object()``.
    """

    def dispatch_request(self) -> Any:
        req = flask.request._get_current_object()  # type: ignore[attr-defined]
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        view_args: dict[str, Any] = req.view_args
        return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)

    def preprocess_request(self) -> Any:
        req = flask.request._get_current_object()  # type: ignore[attr-defined]
        names = (None, *reversed(req.blueprints))
        for name in names:
            if name in self.url_value_preprocessors:
                for url_func in self.url_value_preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in self.before_request_funcs:
                for before_func in self.before_request_funcs[name]:
                    rv = self.ensure_sync(before_func)()
                    if rv is not None:
                        return rv
        return None

    def process_response(self, response: Response) -> Response:
        ctx = flask.globals.request_ctx._get_current_object()  # type: ignore[attr-defined]
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for name in itertools.chain(ctx.request.blueprints, (None,)):
            if name in self.after_request_funcs:
                for func in reversed(self.after_request_funcs[name]):
                    response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(self, exc: BaseException | None = _SENTINEL) -> None:  # type: ignore[assignment]
        if exc is _SENTINEL:
            exc = sys.exc_info()[1]
        req = flask.request._get_current_object()  # type: ignore[attr-defined]
        for name in itertools.chain(req.blueprints, (None,)):
            if name in self.teardown_request_funcs:
                for func in reversed(self.teardown_request_funcs[name]):
                    self.ensure_sync(func)(exc)
        request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)


# The source of Flask's own steps that ``RequestBehindProxyFlask`` writes again, as read
# (sha256 of ``inspect.getsource``).
FLASK_STEPS_READ = {
    "dispatch_request": "62c7e9d15772724aeb88c4791f5b935855709f153ec6d606b9b0c6966ccff1ff",
    "preprocess_request": "74a4cb2d980d5a915f3c3b8afad3ac2a7f89f709932c63a0b00a50dfaef0474a",
    "process_response": "8f4afb5f9ec8c24bf8f11a39a72cc655e0f6268ed96bba127d2d358763c2a490",
    "do_teardown_request": "8c25313693d26f092c0fafb72cfbc19d4bbcfc0e116fc787dab1a82d1ace3510",
}

# The same for the library steps that ``OrjsonBodyParser.parse`` (webargs 8.7.1) and
# ``deserialized`` (marshmallow 4.4.0) do the work of: module, qualified name → digest.
LIBRARY_STEPS_READ = {
    ("webargs.core", "Parser.parse"):
        "198ffc08938800d3da666ecfa71b892bfdf41fb50212d7a7f287a98e1272d906",
    ("marshmallow.fields", "Field.deserialize"):
        "9c693a134c082bdb44401e8e4ed94cf4153d7866fe846d1aa7c01fac4f4d228d",
    ("marshmallow.fields", "Field._validate"):
        "24486ce54187606d737ad78b80a718570f145e9931148691c0d5cbb039120074",
    ("marshmallow.fields", "Field._validate_missing"):
        "e690b5e9cfa43d707cdd59ae8c6ecabf3051f426c5bf15c95d37331db0582f10",
}  # fmt: skip


class OwnErrorResponsesApi(Api):  # type: ignore[misc]
    """A flask-smorest ``Api`` whose error response components come from
    ``error_responses()`` and which registers no pagination header component."""

    def error_responses(self) -> Mapping[str, dict[str, Any]]:
        """Response component name → response (OpenAPI), for every error status."""
        raise NotImplementedError

    def _register_responses(self) -> None:
        for name, response in self.error_responses().items():
            self.spec.components.response(name, response, lazy=True)

    def _register_pagination_header(self) -> None:
        """Pages are in the body (limit, offset, total_count), never in flask-smorest's
        X-Pagination header, whose schema would sit unused in the document."""


# Dict: a JSON column (tags), already a plain object of strings.
_SCALAR_FIELDS = (fields.String, fields.Integer, fields.Boolean, fields.Dict)


class DirectDumpSchema(Schema):
    """A response schema whose dump is a copy, without marshmallow's per-field dispatch.

    Every declared field must be

    - a plain string, integer or boolean, or an object of them (a JSON column, e.g. tags):
      the value is copied;
    - or a ``Nested`` field, or a ``List`` of one, of a ``DirectDumpSchema`` whose keys are
      its attributes (``passes_through``): the value is taken as it is, a mapping already
      in the nested schema's shape. That is what the repositories hand out (the field
      table's names, ``domain.feature_fields``); ``tests/integration/test_lookups.py`` checks
      every producer against the schema, and the contract tests every response.

    The declared fields still define the names, keys and OpenAPI document, only the copy is
    direct. A mapping or object without a declared attribute is an error (KeyError or
    AttributeError), never a null.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = []
        for name, field in self.dump_fields.items():
            if not isinstance(field, _SCALAR_FIELDS) and not _passed_through(field):
                raise TypeError(f"{type(self).__name__}.{name} is neither scalar nor direct")
            plan.append((field.data_key or name, field.attribute or name))
        self._copy_plan = tuple(plan)
        self.passes_through = all(key == attribute for key, attribute in plan)
        hooks = type(self)._hooks
        self._no_dump_hooks = not hooks[PRE_DUMP] and not hooks[POST_DUMP]

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """marshmallow's ``dump``; a dict given to a schema of one object without dump hooks
        copied at once (marshmallow's layer around ``_serialize`` looks the hooks up and
        calls it, on every response)."""
        if many is None and not self.many and type(obj) is dict and self._no_dump_hooks:
            return {key: obj[attribute] for key, attribute in self._copy_plan}
        return super().dump(obj, many=many)

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if many and obj is not None:
            return [self._serialize(item) for item in obj]
        # (a dict first: the ABC's check costs more than the copy of a small envelope)
        if type(obj) is dict or isinstance(obj, Mapping):
            return {key: obj[attribute] for key, attribute in self._copy_plan}
        return {key: getattr(obj, attribute) for key, attribute in self._copy_plan}


def _passed_through(field: fields.Field[Any]) -> bool:
    if isinstance(field, fields.List):
        field = field.inner
    if not isinstance(field, fields.Nested):
        return False
    nested = field.schema
    return isinstance(nested, DirectDumpSchema) and nested.passes_through and not field.many


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        option = orjson.OPT_INDENT_2 if kwargs.get("indent") else 0
        return orjson.dumps(obj, option=option | orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        app: Flask = self._app  # type: ignore[assignment]  # only ever given to a Flask app
        return json_response(app.response_class, body)


JSON_TYPE = "application/json"
# werkzeug's constructor and body setter, which ``json_response`` does the work of.
_RESPONSE_INIT = WerkzeugResponse.__init__
_SET_DATA = WerkzeugResponse.set_data
# Status code → werkzeug's status line for it ("200 OK"), as its ``_clean_status`` makes it.
_STATUS_LINES: dict[int, str] = {}


def json_response(response_class: type[Response], body: bytes, status: int = 200) -> Response:
    """``response_class(body, status=status, content_type="application/json")``: the same
    object, its attributes set as werkzeug's constructor sets them (the headers
    ``Content-Type`` then ``Content-Length``, the status, the body in a list), without the
    constructor's general path: each header set by ``Headers.__setitem__`` (a scan for the
    name and a regular expression over the value) and the status line formatted again, 27 K
    instructions against 5 K (docs/performance.md, "i31-read"). A response class with a
    constructor or body setter of its own, or none setting ``Content-Length``, is called."""
    if (
        response_class.__init__ is not _RESPONSE_INIT
        or response_class.set_data is not _SET_DATA
        or not response_class.automatically_set_content_length
        or type(body) is not bytes
        or type(status) is not int
    ):
        return response_class(body, status=status, content_type=JSON_TYPE)
    response = response_class.__new__(response_class)
    headers = Headers()
    headers._list = [("Content-Type", JSON_TYPE), ("Content-Length", str(len(body)))]
    response.headers = headers
    line = _STATUS_LINES.get(status)
    if line is None:
        line, _ = response._clean_status(status)
        _STATUS_LINES[status] = line
    response._status = line
    response._status_code = status
    response.direct_passthrough = False
    response._on_close = []
    response.response = [body]
    return response


class PlainLoadSchema(Schema):
    """A request schema whose load of a body with no problem is its fields' ``deserialize``
    (their own checks and validators) and then its ``validates_schema`` methods, without
    marshmallow's machinery around them (its error store, its hooks looked up and called by
    name: a third of a values request's load, docs/performance.md "i28-values", and most of
    a read by name's as ``POST``, "i30-read"). It applies only while ``schema_validators_if_plain``
    finds the schema plain, the pre-load hooks being only those in ``PRE_LOADS_AS_IS`` (each
    leaves a body whose keys are all fields of the schema as it is), and only to a plain
    ``load`` of a dict of none but the schema's keys that ``loads_plainly``. Any problem,
    and anything else, takes marshmallow's path, so every refusal is the same."""

    PRE_LOADS_AS_IS: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._validators = schema_validators_if_plain(self, self.PRE_LOADS_AS_IS)
        self._keys = frozenset(field.data_key or name for name, field in self.load_fields.items())
        # (name, key in the body, key loaded, field, whether ``deserialized`` loads it)
        self._plan = tuple(
            (
                name,
                field.data_key or name,
                field.attribute or name,
                field,
                deserializes_plainly(field),
            )
            for name, field in self.load_fields.items()
        )

    def load(
        self,
        data: Any,
        *,
        many: bool | None = None,
        partial: Any = None,
        unknown: Any = None,
    ) -> Any:
        """marshmallow's ``load``, a body with no problem loaded by its fields alone."""
        if self._validators is not None and many is None and partial is None and unknown is None:
            loaded = self._loaded_by_fields(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)

    def loads_plainly(self, data: dict[str, Any]) -> bool:
        """Whether the pre-load hooks leave ``data`` (of the schema's keys only) as it is."""
        return True

    def _loaded_by_fields(self, data: Any) -> dict[str, Any] | None:
        """What marshmallow's load returns for ``data``, when it returns (None otherwise, or
        when unsure)."""
        if type(data) is not dict or not self._keys.issuperset(data):
            return None  # not an object, or unknown fields: refused by marshmallow
        if not self.loads_plainly(data):
            return None
        partial = self.partial
        loaded: dict[str, Any] = {}
        try:
            for name, key, attribute, field, plainly in self._plan:
                value = data.get(key, missing)
                if value is missing and (partial is True or (partial and name in partial)):
                    continue
                if plainly:
                    value = deserialized(field, value, key, data)
                else:
                    value = field.deserialize(value, key, data)
                if value is not missing:
                    loaded[attribute] = value
            for validator in self._validators or ():
                getattr(self, validator)(loaded, partial=partial, many=False, unknown=self.unknown)
        except ValidationError:
            return None
        return loaded


# marshmallow's own steps of a field's load, which ``deserialized`` does the work of.
_FIELD_STEPS = {
    "deserialize": fields.Field.deserialize,
    "_validate": fields.Field._validate,
    "_validate_missing": fields.Field._validate_missing,
    "_validate_all": fields.Field.__dict__["_validate_all"],
}


def deserializes_plainly(field: fields.Field[Any]) -> bool:
    """Whether ``field``'s load is marshmallow's ``Field.deserialize`` (its class overrides
    none of its steps but ``_deserialize``, the documented one), so ``deserialized`` may do
    its work."""
    return all(
        inspect.getattr_static(type(field), name) is step for name, step in _FIELD_STEPS.items()
    )


def deserialized(field: fields.Field[Any], value: Any, key: str, data: Any) -> Any:
    """``field.deserialize(value, key, data)`` for a field that ``deserializes_plainly``, as
    marshmallow 4.4's ``Field.deserialize`` does it (missing and null values, the field's
    pre-load functions, ``_deserialize``, its validators, its post-load functions), without
    the ``And`` of its validators that ``_validate`` makes and calls on every load (its error
    list and its handler around each validator): a ValidationError is raised at the first
    refusal, unlike marshmallow's, which collects them all; ``PlainLoadSchema`` then loads
    the body through marshmallow, whose refusal it answers with."""
    if value is missing or (value is None and not field.allow_none):
        if value is None or field.required:
            raise ValidationError("refused: loaded by marshmallow")
        default = field.load_default
        return default() if callable(default) else default
    for pre_load in field.pre_load:
        value = pre_load(value)
    if value is None and field.allow_none:
        return None
    output = field._deserialize(value, key, data)
    for validator in field.validators:
        validator(output)
    for post_load in field.post_load:
        output = post_load(output)
    return output


def schema_validators_if_plain(
    schema: Schema, pre_loads: frozenset[str]
) -> tuple[str, ...] | None:
    """The names of ``schema``'s ``validates_schema`` methods, when its load of one object
    is its fields' ``deserialize`` then those methods, each called with the loaded dict:
    its pre-load hooks only those named in ``pre_loads`` (the caller's to show they leave
    the bodies it loads so as they are), no post-load hook, no ``@validates`` and no
    validator given the original data. None otherwise."""
    hooks = type(schema)._hooks
    plain = (
        not schema.many
        and {name for name, _, _ in hooks[PRE_LOAD]} <= pre_loads
        and not hooks[POST_LOAD]
        and not hooks[VALIDATES]
        and not any(options.get("pass_original") for _, _, options in hooks[VALIDATES_SCHEMA])
    )
    return tuple(name for name, _, _ in hooks[VALIDATES_SCHEMA]) if plain else None
