"""The blueprint every endpoint is declared on: strict JSON parsing and complete API docs.

On top of flask-smorest's ``Blueprint`` it

- answers unknown or repeated query parameters with 422, as unknown body fields are;
- parses JSON bodies with orjson, which is faster and strict: a lone surrogate escape
  (``"\\ud800"``, which no database can store: it was a 500), ``NaN`` or ``Infinity`` is
  malformed JSON (400), as the standard library's parser would not say (the hook for it is
  in ``framework_adapter``, with every other private one);
- names each operation (``operationId``) after its view function, so generated clients
  get stable method names;
- documents the ``X-User-Role`` header on every GET and DELETE operation whose query takes
  ``user_role``: ``api.roles`` reads the role from either;
- in token mode loads request bodies with the identity fields (``user_role``, the actor
  names) optional, as the token says who the caller is, and binds the actor names to the
  token's principal before the schema sees them (``api.roles.bind_actor_fields``; both
  through webargs' documented ``use_args`` schema factories and ``pre_load``);
- documents an endpoint's problem+json error responses with one decorator, ``problems``;
- makes every POST a keyed write (``Idempotency-Key``, ``api.idempotency``: the header
  documented, 409 and 422 among its responses) unless the route says ``reads_only=True``,
  so a new writing endpoint cannot be left out;
- documents ``X-Read-After`` on the reads a replica may serve (``replicated=True``; the view
  passes ``api.revisions.read_freshness()`` to its service, SPEC §15).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar, cast

import flask
import marshmallow as ma
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy

from feature_gateway.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENCY_STATUSES,
    idempotent,
)
from feature_gateway.api.revisions import READ_AFTER_PARAMETER
from feature_gateway.api.roles import bind_actor_fields, identity_fields_optional
from feature_gateway.domain.identity import IDENTITY_FIELDS
from feature_gateway.framework_adapter import (
    DocCallbacksBlueprint,
    OrjsonBodyParser,
    documented_statuses,
    mark_operation,
    request_behind,
)
from feature_gateway.shapes.role_schemas import RoleHeaderSchema

F = TypeVar("F", bound=Callable[..., Any])
# Loaded values a view cannot change in place: a query's load is kept only with these.
_SCALARS = frozenset({str, int, float, bool, type(None)})
_QUERY_LOADS_KEPT = 256  # query strings kept per query schema and auth mode
# The marks on a keyed write's and a replicated read's doc info (flask-smorest's
# ``_apidoc``), read by doc callbacks.
_KEYED = "idempotency_key"
_REPLICATED = "read_after"
# Request schemas are built once (``_IdentityAwareSchemas``): their multi-valued names.
_SEVERAL_BY_SCHEMA: dict[ma.Schema, frozenset[str]] = {}


class StrictJsonParser(OrjsonBodyParser):
    # webargs ignores unknown query parameters by default; we answer them with 422 like
    # unknown body fields, so a typo in a filter never silently returns everything.
    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, Any] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        """Query parameters; a parameter given twice is refused rather than half-read."""
        # Unknown names are left to the schema, which reports them as unknown.
        # Only what was given is looked at (a list filter has some twenty fields), by the
        # name it is given under (``tag`` for the field ``tags``); the fields by that name
        # only when some parameter is given twice at all.
        given_twice = [name for name, values in req.args.lists() if len(values) > 1]
        by_key = (
            {f.data_key or name: f for name, f in schema.fields.items()} if given_twice else {}
        )
        repeated = sorted(
            name
            for name in given_twice
            if name in by_key and not isinstance(by_key[name], ma.fields.List)
        )
        if repeated:
            raise ma.ValidationError({name: ["Give this parameter once."] for name in repeated})
        if given_twice:
            return super().load_querystring(req, schema)
        # Each parameter given once: a plain dict of what webargs' proxy would answer for
        # each name (a one-item list for a field taking several), read once instead of
        # through the proxy and werkzeug's MultiDict for every field of the schema (a
        # list page's schema has twenty).
        several = self._several(schema)
        return {name: [value] if name in several else value for name, value in req.args.items()}

    def _several(self, schema: ma.Schema) -> frozenset[str]:
        """The names under which ``schema``'s fields take several values, as webargs'
        ``MultiDictProxy`` finds them; once per schema (they are built once)."""
        found = _SEVERAL_BY_SCHEMA.get(schema)
        if found is None:
            proxy = MultiDictProxy({}, schema, known_multi_fields=tuple(self.KNOWN_MULTI_FIELDS))
            found = _SEVERAL_BY_SCHEMA[schema] = frozenset(proxy.multiple_keys)
        return found

    def use_args(self, argmap: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            argmap = _IdentityAwareSchemas(argmap)
        return super().use_args(argmap, *args, **kwargs)

    def parse(
        self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any
    ) -> Any:
        """webargs' ``parse``; query parameters loaded once per query string.

        A query schema's load depends on nothing but the query string (the shapes read no
        request, setting or clock; ``pre_load`` below binds JSON bodies only) and on the
        schema, one per auth mode: a string seen before is answered with a copy of what it
        loaded to, the same dict, when its values are plain scalars a view cannot change
        in place. Refused strings are not kept (each is refused again, in full). Most GETs
        send the same ``?user_role=…``, whose load by webargs and marshmallow was a sixth
        of a read by name.
        """
        if location != "query" or not isinstance(argmap, _IdentityAwareSchemas):
            return super().parse(argmap, req, location=location, **kwargs)
        loads = argmap.query_loads(identity_fields_optional())
        query = request_behind(req).environ.get("QUERY_STRING", "")
        loaded = loads.get(query)
        if loaded is None:
            loaded = super().parse(argmap, req, location=location, **kwargs)
            if all(type(value) in _SCALARS for value in loaded.values()):
                if len(loads) >= _QUERY_LOADS_KEPT:
                    # The oldest: a bound on memory, not an LRU. Under gthread workers
                    # another thread may have dropped it, or changed the dict, meanwhile.
                    with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                        del loads[next(iter(loads))]
                loads[query] = loaded
        return dict(loaded)

    def pre_load(
        self, location_data: Any, *, schema: ma.Schema, req: flask.Request, location: str
    ) -> Any:
        if location == "json" and isinstance(location_data, Mapping):
            return bind_actor_fields(location_data, schema)
        return location_data


class _IdentityAwareSchemas:
    """webargs schema factory: one instance of the schema per auth mode, built once.

    With a token the identity fields may be left out (marshmallow's ``partial``); webargs
    would otherwise build a new instance of a schema class for every request.
    """

    def __init__(self, schema_class: type[ma.Schema]) -> None:
        self.schema_class = schema_class
        self._by_mode: dict[bool, ma.Schema] = {}
        self._query_loads: dict[bool, dict[str, dict[str, Any]]] = {False: {}, True: {}}

    def query_loads(self, optional: bool) -> dict[str, dict[str, Any]]:
        """Query string → what the schema of this auth mode loaded it to (``parse``)."""
        return self._query_loads[optional]

    def __call__(self, _request: flask.Request) -> ma.Schema:
        optional = identity_fields_optional()
        schema = self._by_mode.get(optional)
        if schema is None:
            schema = self.schema_class()
            if optional:
                schema = self.schema_class(partial=tuple(IDENTITY_FIELDS & set(schema.fields)))
            self._by_mode[optional] = schema
        return schema


class ApiBlueprint(DocCallbacksBlueprint):
    ARGUMENTS_PARSER = StrictJsonParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_doc_callback(self._prepare_role_header_doc)
        self.add_doc_callback(_prepare_idempotency_doc)
        self.add_doc_callback(_prepare_read_after_doc)
        self.add_doc_callback(_sort_responses)

    def route(
        self, rule: str, *, reads_only: bool = False, replicated: bool = False, **options: Any
    ) -> Callable[[F], F]:
        """Register a view; a POST is a keyed write unless it ``reads_only``; a read a
        replica may serve is ``replicated`` (and so ``reads_only``)."""
        keyed = "POST" in options.get("methods", ()) and not (reads_only or replicated)
        register = super().route(rule, **options)

        def decorator(view: F) -> F:
            name = view.__name__
            if keyed:
                view = self._keyed(view)
            if replicated:
                # On the operation, not the path: a write may share the path (comments).
                mark_operation(view, view, _REPLICATED)
            return cast(F, register(self.doc(operationId=name)(view)))

        return decorator

    def _keyed(self, view: F) -> F:
        missing = [s for s in IDEMPOTENCY_STATUSES if s not in documented_statuses(view)]
        view = self.problems(missing)(view) if missing else view
        wrapped = idempotent(view)
        mark_operation(wrapped, view, _KEYED)
        return wrapped

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        # A schema class stays a class: the parser's _IdentityAwareSchemas builds one
        # instance per auth mode, once (webargs would build one per request).
        return super().arguments(schema, *args, **kwargs)

    def problems(self, statuses: Iterable[int]) -> Callable[[F], F]:
        """Document the problem+json responses an endpoint may return (see api.problems)."""

        def decorator(view: F) -> F:
            for status in sorted(statuses, reverse=True):
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator

    @staticmethod
    def _prepare_role_header_doc(
        doc: dict[str, Any], doc_info: Mapping[str, Any], *, method: str, **_: Any
    ) -> dict[str, Any]:
        if method in ("get", "delete") and any(
            parameter.get("in") == "query" and "user_role" in _fields(parameter["schema"])
            for parameter in doc.get("parameters", [])
            if isinstance(parameter, Mapping)
        ):
            doc["parameters"].append(
                {"in": "header", "required": False, "schema": RoleHeaderSchema}
            )
        return doc


def _prepare_idempotency_doc(
    doc: dict[str, Any], doc_info: Mapping[str, Any], **_: Any
) -> dict[str, Any]:
    if doc_info.get(_KEYED):
        doc.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
    return doc


def _prepare_read_after_doc(
    doc: dict[str, Any], doc_info: Mapping[str, Any], **_: Any
) -> dict[str, Any]:
    if doc_info.get(_REPLICATED):
        doc.setdefault("parameters", []).append(READ_AFTER_PARAMETER)
    return doc


def _sort_responses(doc: dict[str, Any], _doc_info: Mapping[str, Any], **_: Any) -> dict[str, Any]:
    if "responses" in doc:
        doc["responses"] = dict(sorted(doc["responses"].items(), key=lambda item: str(item[0])))
    return doc


def _fields(schema: Any) -> Mapping[str, Any]:
    return (schema() if isinstance(schema, type) else schema).fields  # type: ignore[no-any-return]
