"""The front door at ``/``: where a newcomer finds the console, the API and its health.

A browser (one that prefers HTML) gets a small page of links, served with the console's
stylesheet and security headers (no external asset, no script); any other client gets the
same links as JSON. Public in token mode, like the documentation (``web.access``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request

from feature_gateway import __version__
from feature_gateway.api.docs import DOCS_PATH
from feature_gateway.web.access import FRONT_DOOR_ENDPOINT
from feature_gateway.web.headers import add_security_headers

blueprint = Blueprint(FRONT_DOOR_ENDPOINT.split(".")[0], __name__, template_folder="templates")
# What the front door points at, in the order it shows them.
LINKS = {
    "console": ("/console/", "Review console", "review, approve and follow features"),
    "docs": (DOCS_PATH, "API documentation", "Swagger UI: every endpoint, tried in the browser"),
    "openapi": ("/openapi.json", "OpenAPI document", "to generate a client"),
    "health": ("/health", "Health", "the service and its database"),
}
_HTML, _JSON = "text/html", "application/json"


@blueprint.get("/", endpoint=FRONT_DOOR_ENDPOINT.split(".")[1])
def index() -> Any:
    """HTML for a browser; JSON for everyone else (``*/*``, no Accept, or asked for)."""
    if request.accept_mimetypes.best_match((_JSON, _HTML)) == _HTML:
        response = Response(render_template("front_door/index.html", links=LINKS.values()))
        response = add_security_headers(response)
    else:
        response = jsonify(
            service="Feature Metadata Gateway",
            version=__version__,
            links={name: path for name, (path, _, _) in LINKS.items()},
        )
    response.vary.add("Accept")  # one path, two representations: caches must tell them apart
    return response


def register_front_door(app: Flask) -> None:
    app.register_blueprint(blueprint)
