"""The Blueprint every endpoint group uses: flask-smorest's, with strict query strings."""

from __future__ import annotations

from typing import Any

import flask_smorest
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    # webargs ignores unknown query parameters by default; we answer them with 422 like
    # unknown body fields, so a typo in a filter never silently returns everything.
    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, Any] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = StrictParser()
