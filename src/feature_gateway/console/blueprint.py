"""The console's blueprint at ``/console/`` and what every page of it shares: who is signed
in (``identity``), the CSRF check of every form, the security headers, the context every
template sees, and the error pages. The pages themselves are in ``console.views``."""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from feature_gateway.console import identity, pages
from feature_gateway.console.errors import register_error_pages
from feature_gateway.console.forms import MAX_FORM_BYTES, PlainForm, label
from feature_gateway.console.identity import current_user
from feature_gateway.domain.identity import OIDC_CREDENTIAL
from feature_gateway.errors import GatewayError
from feature_gateway.web import caller
from feature_gateway.web.access import CONSOLE_BLUEPRINT
from feature_gateway.web.context import identity_provider, settings
from feature_gateway.web.headers import add_security_headers

blueprint = Blueprint(
    CONSOLE_BLUEPRINT,
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()


@blueprint.before_request
def _who_is_signed_in() -> None:
    identity.load_user()


@blueprint.before_request
def _protect_forms() -> None:
    if request.method == "POST":
        _bound_form()
        csrf.protect()  # CSRFError (400) without a valid token


def _bound_form() -> None:
    """413 for a form larger than any valid console form, or of more fields than werkzeug
    parses from a multipart one (``max_form_parts``), before the form is parsed.

    werkzeug 3.1 applies ``max_form_memory_size`` and ``max_form_parts`` to multipart forms
    only, and reads an urlencoded one whole (its documentation); ``max_content_length``
    limits what it reads. The fields are counted in the body werkzeug then parses (its
    cached copy): no field of a valid form holds a bare "&". Setting the request's
    ``max_content_length`` replaces the app's ``MAX_CONTENT_LENGTH`` for it, so the
    smaller of the two is set: a service configured below ``MAX_FORM_BYTES`` still
    refuses what it refused before."""
    configured = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = (
        MAX_FORM_BYTES if configured is None else min(MAX_FORM_BYTES, configured)
    )
    parts = request.max_form_parts
    if (
        parts is not None
        and request.mimetype == "application/x-www-form-urlencoded"
        and request.get_data(cache=True).count(b"&") >= parts
    ):
        raise RequestEntityTooLarge()


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    return add_security_headers(response, form_targets=_provider_origins())


def _provider_origins() -> list[str]:
    """With single sign-on on: the provider's origin, where the sign-out form's redirect goes
    on to (RP-initiated logout). For a person signed in there, also the origin of its
    end-session endpoint, which may differ (discovery: fetched once per process, and only
    for them; while the provider cannot be reached, their sign-out ends here only)."""
    provider = identity_provider()
    if provider is None:
        return []
    urls = [provider.issuer]
    signed_in = caller.principal()
    if signed_in is not None and (signed_in.credential or "").startswith(OIDC_CREDENTIAL):
        with suppress(GatewayError):
            urls.append(provider.discovery().end_session_endpoint or "")
    return [_origin(url) for url in urls if url]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@blueprint.app_template_filter("console_time")
def _console_time(ms: int | None) -> str:
    return pages.format_time(ms)


@blueprint.context_processor
def _page_context() -> dict[str, Any]:
    return {
        "user": current_user(),
        "trust_mode": not settings().token_mode,
        # Only rendered (its CSRF token), never validated here: not bound to the request's
        # form, whose reading may be what failed (an error page of a refused body).
        "sign_out_form": PlainForm(formdata=None),
        "label": label,
    }


@blueprint.get("/")
def home() -> Response:
    target = "console.queue" if current_user() else "console.sign_in"
    return redirect(url_for(target))


@blueprint.get("/<path:unknown>")
def not_found(unknown: str) -> Any:
    abort(404)


register_error_pages(blueprint)
