"""Security headers of every page the service serves: the console's and the front door's
(SPEC §10)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from werkzeug.wrappers import Response

R = TypeVar("R", bound=Response)

# No script at all, styles and images from the service itself, forms posted only to it,
# never framed (clickjacking), no <base> rewriting links.
_POLICY = (
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    # The origin's own pages get the referrer (Flask-WTF checks it on https posts);
    # other sites get nothing.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The policy, with ``form_targets`` (origins) allowed as well as the service itself for
    where a form may lead: browsers (Chromium) hold the redirect that answers a form's POST
    to form-action too, so a POST the service answers by sending the browser elsewhere (the
    console's sign-out at the OpenID provider) needs that origin here."""
    extra = " ".join(sorted(set(form_targets)))
    if not extra:
        return CONTENT_SECURITY_POLICY
    return "; ".join(
        f"{directive} {extra}" if directive == "form-action 'self'" else directive
        for directive in _POLICY
    )


def add_security_headers(response: R, form_targets: Iterable[str] = ()) -> R:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy(form_targets)
    if response.mimetype == "text/html":
        # Pages carry feature data and who is signed in: no copy in any cache.
        response.headers["Cache-Control"] = "no-store"
    return response
