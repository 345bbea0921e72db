"""The console's pages and forms: sign-in and out, the list, the queues, the feature page,
and the actions on it. Each POST answers with a redirect and a flash message
(post/redirect/get); refusals show the API's own detail text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFProtect
from marshmallow import ValidationError as SchemaError
from werkzeug.wrappers import Response

from feature_gateway.console import actions, identity, pages
from feature_gateway.console.errors import register_error_pages
from feature_gateway.console.forms import (
    TRIGGER_FORMS,
    NewVersionForm,
    PlainForm,
    RevisionForm,
    TokenSignInForm,
    TrustSignInForm,
    input_names,
    label,
    prefilled_version_form,
)
from feature_gateway.console.identity import current_user, signed_in
from feature_gateway.console.listing import (
    PAGE_SIZES,
    QUEUES,
    feature_query,
    page_link_args,
)
from feature_gateway.domain.feature_fields import FIELDS_BY_NAME
from feature_gateway.domain.freshness import LATEST
from feature_gateway.domain.lifecycle import STORED_STATES, DataType, FeatureType, Role, Status
from feature_gateway.domain.listing import SORT_ORDERS
from feature_gateway.domain.names import is_valid_feature_name
from feature_gateway.errors import (
    AuthenticationError,
    ConcurrentModificationError,
    GatewayError,
    ValidationError,
)
from feature_gateway.services import features
from feature_gateway.shapes.schema_fields import Actor
from feature_gateway.web.access import CONSOLE_BLUEPRINT
from feature_gateway.web.context import database, settings
from feature_gateway.web.headers import add_security_headers

T = TypeVar("T")

blueprint = Blueprint(
    CONSOLE_BLUEPRINT,
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()
STALE = "This feature changed since you loaded it — reload the page and check it again."
QUEUE_LIMIT = 100


@blueprint.before_request
def _who_is_signed_in() -> None:
    identity.load_user()


@blueprint.before_request
def _protect_forms() -> None:
    if request.method == "POST":
        csrf.protect()  # CSRFError (400) without a valid token


blueprint.after_request(add_security_headers)


@blueprint.app_template_filter("console_time")
def _console_time(ms: int | None) -> str:
    return pages.format_time(ms)


@blueprint.context_processor
def _page_context() -> dict[str, Any]:
    return {
        "user": current_user(),
        "trust_mode": not settings().token_mode,
        "sign_out_form": PlainForm(),
        "label": label,
    }


@blueprint.get("/")
def home() -> Response:
    target = "console.queue" if current_user() else "console.sign_in"
    return redirect(url_for(target))


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
        return render_template("console/sign_in.html", form=form), 401
    else:
        return render_template("console/sign_in.html", form=form), 422
    return render_template("console/sign_in.html", form=form)


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
    identity.sign_out()
    flash("Signed out.", "ok")
    return redirect(url_for("console.sign_in"))


@blueprint.get("/features")
@signed_in
def feature_list() -> Any:
    try:
        query = feature_query(request.args)
    except ValidationError as invalid:
        return _list_page([], None, invalid.detail), 422
    page = features.list_features(database(), query, LATEST)  # see pages.feature_page
    return _list_page(page.items, page, None)


def _list_page(items: Any, page: Any, problem: str | None) -> str:
    previous = next_page = None
    if page is not None:
        if page.offset > 0:
            previous = page_link_args(request.args, max(page.offset - page.limit, 0))
        if page.offset + page.limit < page.total_count:
            next_page = page_link_args(request.args, page.offset + page.limit)
    return render_template(
        "console/features.html",
        items=items,
        page=page,
        problem=problem,
        args=request.args,
        statuses=[status for status in Status if status in STORED_STATES],
        feature_types=list(FeatureType),
        data_types=list(DataType),
        sorts=SORT_ORDERS,
        page_sizes=PAGE_SIZES,
        previous=previous,
        next_page=next_page,
    )


@blueprint.get("/queue")
@signed_in
def queue() -> str:
    user = identity.signed_in_user()
    sections = []
    for role in user.roles:
        waiting = QUEUES.get(role)
        if waiting is not None:
            query = waiting.query(user.name, QUEUE_LIMIT)
            page = features.list_features(database(), query, LATEST)
            sections.append((waiting, page))
    return render_template("console/queue.html", sections=sections)


@blueprint.get("/features/<feature_name>")
@signed_in
def feature(feature_name: str) -> str:
    if not is_valid_feature_name(feature_name):
        abort(404)
    shown = pages.feature_page(feature_name)
    offers = actions.offers(shown.feature["status"])
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
        forms=forms,
        input_names=input_names,
        table_fields=pages.TABLE_FIELDS,
        diff_lines=pages.diff_lines(shown.diff.query_diff) if shown.diff else [],
        format_value=pages.format_value,
        is_time=pages.is_time,
        is_reference=pages.is_reference,
        fields_by_name=FIELDS_BY_NAME,
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
    inputs = {name: _text(form[name].data) for name in input_names(form)}
    user = identity.signed_in_user()
    result = _attempted(lambda: actions.fire(user, trigger, feature_name, inputs, revision))
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
        name: _text(form[name].data)
        for name in form.data
        if name not in ("revision", "csrf_token")
    }
    user = identity.signed_in_user()
    created = _attempted(lambda: actions.new_version(user, feature_name, inputs, revision))
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


def _text(value: Any) -> Any:
    # Browsers send text areas with CRLF line ends; the API stores what a client sends.
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _attempted(action: Callable[[], T]) -> T | None:
    """What ``action`` returns, or None with the refusal flashed for the next page."""
    try:
        return action()
    except ConcurrentModificationError:
        flash(STALE, "error")
    except GatewayError as refused:
        _flash_refusal(refused)
    return None


def _flash_refusal(refused: GatewayError) -> None:
    flash(f"Refused: {refused.detail}", "error")


@blueprint.get("/<path:unknown>")
def not_found(unknown: str) -> Any:
    abort(404)


register_error_pages(blueprint)
