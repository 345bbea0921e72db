"""Flask JSON provider backed by orjson: large responses (batch values) dominate latency."""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        option = orjson.OPT_INDENT_2 if kwargs.get("indent") else 0
        return orjson.dumps(obj, option=option | orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        app = cast(Flask, self._app)  # this provider is only ever given to a Flask app
        return app.response_class(body, mimetype="application/json")
