"""Creating a feature from the console (developers): the create request's form, checked
by the API's own request schema, with its messages by each field."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from feature_gateway.console import actions, identity
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.forms import CREATE_INPUTS, CreateFeatureForm, form_text
from feature_gateway.console.identity import signed_in
from feature_gateway.domain.lifecycle import Action
from feature_gateway.errors import (
    GatewayError,
    OwnershipError,
    ValidationError,
    http_status_for,
)
from feature_gateway.web import caller


@blueprint.route("/features/new", methods=["GET", "POST"])
@signed_in
def create_feature() -> Any:
    form = CreateFeatureForm()
    may_create = caller.role_for(Action.CREATE) is not None
    if request.method == "GET" or not may_create:
        return _page(form, {}, None, may_create), 200 if may_create else 403
    inputs = {name: form_text(form[name].data) for name in CREATE_INPUTS}
    try:
        created = actions.create(identity.signed_in_user(), inputs)
    except ValidationError as invalid:
        problem = "see the messages by the fields below." if invalid.errors else invalid.detail
        return _page(form, invalid.errors or {}, problem, may_create), 422
    except OwnershipError as refused:  # the owner asked for (SPEC §12): said by that field
        errors = {"owner": [refused.detail]}
        return _page(form, errors, "see the message by the owner.", may_create), 403
    except GatewayError as refused:
        return _page(form, {}, refused.detail, may_create), http_status_for(refused)[0]
    flash(f"Feature {created['feature_name']} created (DRAFT).", "ok")
    return redirect(url_for("console.feature", feature_name=created["feature_name"]))


def _page(form: Any, errors: dict[str, Any], problem: str | None, may_create: bool) -> str:
    return render_template(
        "console/create.html",
        form=form,
        inputs=CREATE_INPUTS,
        errors={name: _messages(errors.get(name)) for name in errors},
        problem=problem,
        may_create=may_create,
    )


def _messages(problem: Any) -> list[str]:
    if isinstance(problem, dict):
        return [m for inner in problem.values() for m in _messages(inner)]
    if isinstance(problem, list):
        return [str(m) for m in problem]
    return [] if problem is None else [str(problem)]
