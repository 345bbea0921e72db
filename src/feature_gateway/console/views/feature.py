"""The feature page, and the actions it offers: a trigger, or a new version. A refusal is
flashed in the API's own words on the page the person comes back to."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from feature_gateway.console import actions, identity, pages
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.forms import (
    TRIGGER_FORMS,
    CommentForm,
    NewVersionForm,
    RevisionForm,
    form_text,
    input_names,
    prefilled_version_form,
)
from feature_gateway.console.identity import signed_in
from feature_gateway.domain.names import is_valid_feature_name
from feature_gateway.errors import ConcurrentModificationError, GatewayError

T = TypeVar("T")
STALE = "This feature changed since you loaded it — reload the page and check it again."


@blueprint.get("/features/<feature_name>")
@signed_in
def feature(feature_name: str) -> str:
    if not is_valid_feature_name(feature_name):
        abort(404)
    shown = pages.feature_page(feature_name)
    offers, refused = actions.offers(shown.feature)
    set_fields, unset_fields = pages.set_and_unset(shown.feature)
    forms: dict[str, RevisionForm] = {}
    for offer in offers:
        if offer.trigger == actions.NEW_VERSION:
            forms[offer.trigger] = prefilled_version_form(shown.feature)
        else:
            forms[offer.trigger] = TRIGGER_FORMS[offer.trigger](
                formdata=None, data={"revision": shown.feature["revision"]}
            )
    return render_template(
        "console/feature.html",
        page=shown,
        f=shown.feature,
        offers=offers,
        refused=refused,
        forms=forms,
        set_fields=set_fields,
        unset_fields=unset_fields,
        diff_lines=pages.diff_lines(shown.diff.query_diff) if shown.diff else [],
        format_value=pages.format_value,
        format_field=pages.format_field,
        is_time=pages.is_time,
        is_reference=pages.is_reference,
        comment_form=CommentForm(formdata=None) if actions.may_comment() else None,
    )


@blueprint.post("/features/<feature_name>/actions/<trigger>")
@signed_in
def fire(feature_name: str, trigger: str) -> Response:
    form_class = TRIGGER_FORMS.get(trigger)
    if form_class is None or not is_valid_feature_name(feature_name):
        abort(404)
    form = form_class()
    back = url_for("console.feature", feature_name=feature_name)
    revision = _revision(form)
    if revision is None:
        return redirect(back)
    inputs = {name: form_text(form[name].data) for name in input_names(form)}
    user = identity.signed_in_user()
    result = attempted(lambda: actions.fire(user, trigger, feature_name, inputs, revision))
    if result is not None:
        flash(f"{actions.title(trigger)}: {feature_name} is now {result.new_status}.", "ok")
    return redirect(back)


@blueprint.post("/features/<feature_name>/versions")
@signed_in
def new_version(feature_name: str) -> Response:
    if not is_valid_feature_name(feature_name):
        abort(404)
    form = NewVersionForm()
    back = url_for("console.feature", feature_name=feature_name)
    revision = _revision(form)
    if revision is None:
        return redirect(back)
    inputs = {
        name: form_text(form[name].data)
        for name in form.data
        if name not in ("revision", "csrf_token")
    }
    user = identity.signed_in_user()
    created = attempted(lambda: actions.new_version(user, feature_name, inputs, revision))
    if created is None:
        return redirect(back)
    flash(f"Version {created['feature_name']} created (DRAFT).", "ok")
    return redirect(url_for("console.feature", feature_name=created["feature_name"]))


def _revision(form: RevisionForm) -> int | None:
    raw = form.revision.data
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        flash("The form did not say which revision you saw; reload the page.", "error")
        return None
    return int(raw)


def attempted(action: Callable[[], T]) -> T | None:
    """What ``action`` returns, or None with the refusal flashed for the next page (the
    comment form's too)."""
    try:
        return action()
    except ConcurrentModificationError:
        flash(STALE, "error")
    except GatewayError as refused:
        _flash_refusal(refused)
    return None


def _flash_refusal(refused: GatewayError) -> None:
    flash(f"Refused: {refused.detail}", "error")
