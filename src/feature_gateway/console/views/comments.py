"""Commenting on a feature from its page (SPEC §10): a POST form with a CSRF token; the
comment, or the API's reason for refusing it, shown on the page the person comes back to."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from feature_gateway.console import actions, identity
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.forms import CommentForm, form_text
from feature_gateway.console.identity import signed_in
from feature_gateway.console.views.feature import attempted
from feature_gateway.domain.names import is_valid_feature_name


@blueprint.post("/features/<feature_name>/comments")
@signed_in
def comment(feature_name: str) -> Response:
    if not is_valid_feature_name(feature_name):
        abort(404)
    body = form_text(CommentForm().body.data or "")
    user = identity.signed_in_user()
    if attempted(lambda: actions.comment(user, feature_name, body)) is not None:
        flash("Your comment was added to the timeline.", "ok")
    return redirect(url_for("console.feature", feature_name=feature_name) + "#timeline")
