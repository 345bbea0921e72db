"""Signing in (a pasted API token, or in trust mode a claimed role and name) and out; the
single sign-on at the OpenID provider is in ``views.single_sign_on``."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from werkzeug.wrappers import Response

from feature_gateway.console import identity
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.forms import TokenSignInForm, TrustSignInForm
from feature_gateway.console.views.single_sign_on import external_url
from feature_gateway.domain.lifecycle import Role
from feature_gateway.errors import AuthenticationError, GatewayError, ValidationError
from feature_gateway.services import single_sign_on
from feature_gateway.shapes.schema_fields import Actor
from feature_gateway.web.context import identity_provider, settings


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    token_mode = settings().token_mode
    form = TokenSignInForm() if token_mode else TrustSignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    elif form.validate_on_submit():
        try:
            if isinstance(form, TokenSignInForm):
                user = identity.sign_in_with_token(form.token.data.strip())
            else:
                user = identity.sign_in_as_claimed(
                    _claimed_name(form.name.data), Role(form.role.data)
                )
        except (AuthenticationError, ValidationError) as refused:
            flash(_sign_in_problem(refused), "error")
        else:
            flash(f"Signed in as {user.name} ({', '.join(r.value for r in user.roles)}).", "ok")
            return redirect(identity.safe_next(form.next.data))
        return _page(form), 401
    else:
        return _page(form), 422
    return _page(form)


def _page(form: TokenSignInForm | TrustSignInForm) -> str:
    # Beside the token sign-in (service accounts keep it) when OIDC is on (SPEC §12).
    single_sign_on = identity_provider() is not None
    return render_template("console/sign_in.html", form=form, single_sign_on=single_sign_on)


def _claimed_name(raw: str) -> str:
    """The name typed at sign-in, held to the API's rule for actor names."""
    try:
        return str(Actor().deserialize(raw))
    except SchemaError as exc:
        raise ValidationError.for_field(
            "name", f"Your name: {' '.join(map(str, exc.messages))}"
        ) from exc


def _sign_in_problem(refused: GatewayError) -> str:
    if isinstance(refused, AuthenticationError):
        # The API's words, without echoing anything of what was pasted.
        return f"Not signed in: {refused.detail.replace('bearer token', 'API token')}"
    return refused.detail


@blueprint.post("/sign-out")
def sign_out() -> Response:
    id_token = identity.sign_out()
    flash("Signed out.", "ok")
    provider = identity_provider()
    if id_token is not None and provider is not None:
        # RP-initiated logout: the provider ends its own session, then sends the browser
        # back here. The console's CSP lets this form's redirect go there (form-action).
        back = external_url("console.sign_in")
        elsewhere = single_sign_on.end_session_url(provider, id_token=id_token, return_to=back)
        if elsewhere is not None:
            return redirect(elsewhere)
    return redirect(url_for("console.sign_in"))
