"""Security headers of every page the service serves: the console's and the front door's
(SPEC §10)."""

from __future__ import annotations

from flask import Response

# No script at all, styles and images from the service itself, forms posted only to it,
# never framed (clickjacking), no <base> rewriting links.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    # The origin's own pages get the referrer (Flask-WTF checks it on https posts);
    # other sites get nothing.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype == "text/html":
        # Pages carry feature data and who is signed in: no copy in any cache.
        response.headers["Cache-Control"] = "no-store"
    return response
