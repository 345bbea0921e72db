"""The console's forms (Flask-WTF: each renders and checks its CSRF token).

The action forms are built from the lifecycle and field tables: a trigger's form asks for
exactly the fields its API request takes besides the actor (``TRIGGER_STAMPS``), each as
its kind calls for, so a field added to a trigger appears in its form. What is valid is
decided by the API's own request schema (``console.actions``), not by these forms.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired, Optional

from feature_gateway.domain.changes import VERSIONED_FIELDS
from feature_gateway.domain.comments import COMMENT_FIELDS
from feature_gateway.domain.feature_fields import (
    CREATE_FIELDS,
    FEATURE_FIELDS,
    FIELDS_BY_NAME,
    FORCE_REQUEST_FIELD,
    TRIGGER_STAMPS,
    Kind,
)
from feature_gateway.domain.identity import claimable_roles
from feature_gateway.domain.lifecycle import TRIGGERS
from feature_gateway.domain.text import MAX_NAME_LENGTH
from feature_gateway.shapes.schema_fields import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_QUERY_LENGTH,
)


def label(field_name: str) -> str:
    """``rejection_reason`` → "Rejection reason"."""
    return field_name.replace("_", " ").capitalize()


class TokenSignInForm(FlaskForm):
    # A password input: the browser never shows it, and the page never sends it back.
    token = PasswordField("API token", validators=[InputRequired()])
    next = HiddenField()


class TrustSignInForm(FlaskForm):
    role = SelectField("Role", choices=claimable_roles(token_mode=False))
    name = StringField("Your name", validators=[InputRequired()])
    next = HiddenField()


class PlainForm(FlaskForm):
    """A form that is only a button (sign-out): its CSRF token is all it carries."""


class CommentForm(FlaskForm):
    # What is valid (1 to 10,000 characters, not blank) is the API schema's to say.
    body = TextAreaField("Your comment")


class RevisionForm(FlaskForm):
    # The revision of the feature as the page showed it: the action applies to it or not
    # at all (If-Match semantics).
    revision = HiddenField(validators=[InputRequired()])


def _input(name: str) -> Field:
    field = FIELDS_BY_NAME[name]
    if field.kind is Kind.FORCED:  # a checkbox, named as the request names it
        return BooleanField(f"{label(FORCE_REQUEST_FIELD)} (give the reason)")
    validators = [InputRequired() if field.required else Optional()]
    if field.kind is Kind.CHOICE:
        return SelectField(label(name), choices=list(field.choices), validators=validators)
    if field.kind in (Kind.NOTE, Kind.DESCRIPTION, Kind.QUERY):
        return TextAreaField(label(name), validators=validators)
    return StringField(label(name), validators=validators)


def _trigger_form(trigger: str) -> type[RevisionForm]:
    stamps = TRIGGER_STAMPS[trigger]
    inputs = [name for name in (*stamps.values, stamps.note, stamps.forced) if name is not None]
    form: type[RevisionForm] = type(
        f"{trigger.capitalize()}Form", (RevisionForm,), {n: _input(n) for n in inputs}
    )
    form.input_names = tuple(inputs)
    return form


# One form class per trigger a caller fires (delete and retire included).
TRIGGER_FORMS: dict[str, type[RevisionForm]] = {
    name: _trigger_form(name) for name, trigger in TRIGGERS.items() if trigger.action is not None
}


def form_text(value: Any) -> Any:
    """A submitted value as a client of the API would send it: browsers send text areas
    with CRLF line ends, and the API stores what a client sends."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def input_names(form: RevisionForm) -> tuple[str, ...]:
    return getattr(type(form), "input_names", ())


def _version_input(name: str) -> Field:
    field = FIELDS_BY_NAME[name]
    if field.kind is Kind.CHOICE:
        return SelectField(label(name), choices=list(field.choices))
    if field.kind in (Kind.DESCRIPTION, Kind.QUERY):
        return TextAreaField(label(name), validators=[InputRequired()])
    return StringField(label(name), validators=[Optional()])


# A new version: every versioned field but the tags (copied as they are), prefilled with
# the source's values.
VERSION_INPUTS = tuple(
    name for name in VERSIONED_FIELDS if FIELDS_BY_NAME[name].kind is not Kind.TAGS
)
NewVersionForm: type[RevisionForm] = type(
    "NewVersionForm", (RevisionForm,), {n: _version_input(n) for n in VERSION_INPUTS}
)


def prefilled_version_form(feature: dict[str, Any]) -> RevisionForm:
    data = {name: feature.get(name) or "" for name in VERSION_INPUTS}
    return NewVersionForm(formdata=None, data={**data, "revision": feature["revision"]})


def _create_input(name: str) -> Field:
    field = FIELDS_BY_NAME[name]
    if field.kind is Kind.CHOICE:
        return SelectField(label(name), choices=list(field.choices))
    if field.kind in (Kind.DESCRIPTION, Kind.QUERY):
        return TextAreaField(label(name))
    return StringField(label(name))


# A new feature: what the create request takes but the creator (the signed-in person) and
# the tags (set later through the API). Required or not, and valid or not, is the API's
# request schema's to say (``console.actions.create``): its messages show by each field.
CREATE_INPUTS = tuple(
    name for name in CREATE_FIELDS if FIELDS_BY_NAME[name].kind not in (Kind.ACTOR, Kind.TAGS)
)
CreateFeatureForm: type[FlaskForm] = type(
    "CreateFeatureForm", (FlaskForm,), {n: _create_input(n) for n in CREATE_INPUTS}
)


# The most characters a form's field validly holds: its request field's limit for the free
# texts; any other input (a name, an actor, a choice, a revision, an API token, the CSRF
# token) at most MAX_NAME_LENGTH.
_TEXT_LIMITS = {
    Kind.QUERY: MAX_QUERY_LENGTH,
    Kind.DESCRIPTION: MAX_DESCRIPTION_LENGTH,
    Kind.NOTE: MAX_NOTE_LENGTH,
}
_MOST_CHARACTERS = {
    field.name: _TEXT_LIMITS.get(field.kind, MAX_NAME_LENGTH)
    for field in (*FEATURE_FIELDS, *COMMENT_FIELDS)
}
# A character is at most 4 bytes of UTF-8, each sent as "%XX" in a urlencoded form.
_MOST_BYTES_PER_CHARACTER = 12


def _most_bytes(form: type[FlaskForm]) -> int:
    """The largest valid ``form`` sent urlencoded: each input at its limit, every character
    of it at its longest, with its name, "=" and "&"."""
    names = [name for name in dir(form) if isinstance(getattr(form, name), UnboundField)]
    return sum(
        len(name) + 2 + _MOST_BYTES_PER_CHARACTER * _MOST_CHARACTERS.get(name, MAX_NAME_LENGTH)
        for name in (*names, "csrf_token")
    )


CONSOLE_FORMS: tuple[type[FlaskForm], ...] = (
    TokenSignInForm,
    TrustSignInForm,
    PlainForm,
    CommentForm,
    *TRIGGER_FORMS.values(),
    NewVersionForm,
    CreateFeatureForm,
)
# A console form is refused (413) past this size, or past werkzeug's max_form_parts fields
# (console.blueprint): the largest valid one (a new feature's: its query and description
# at their limits, 1.3 MB) with a quarter more. werkzeug reads an urlencoded form whole, at
# about 180 bytes a field: 300,000 fields in 2 MB took a worker 55 MB higher.
MAX_FORM_BYTES = max(_most_bytes(form) for form in CONSOLE_FORMS) * 5 // 4
