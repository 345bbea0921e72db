"""What a signed-in person may do to a feature, and doing it through the API's services.

Which actions a page offers follows from the lifecycle table: a trigger is offered when
the feature's status is one of its sources and the person holds one of its roles. What a
request must carry is checked by the API's own request schemas, and the services enforce
the rest exactly as for the API (roles again, separation of duties, the revision shown,
409s): the console adds no rule of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError as SchemaError

from feature_gateway.console import may_act
from feature_gateway.console.forms import TRIGGER_FORMS, label
from feature_gateway.console.identity import ConsoleUser
from feature_gateway.console.may_act import Verdict
from feature_gateway.domain import permissions
from feature_gateway.domain.feature_fields import TRIGGER_STAMPS
from feature_gateway.domain.lifecycle import PERMISSIONS, TRIGGERS, Action, Role
from feature_gateway.errors import ForbiddenError, ValidationError
from feature_gateway.services import catalog, comments, features, workflow
from feature_gateway.services.rows import FeatureData
from feature_gateway.shapes.comment_schemas import CreateCommentSchema
from feature_gateway.shapes.feature_schemas import (
    CreateFeatureSchema,
    CreateVersionSchema,
    trigger_request_schema,
)
from feature_gateway.shapes.trigger_endpoints import TRIGGER_ENDPOINTS
from feature_gateway.web import caller
from feature_gateway.web.context import database, settings

_ENDPOINTS = {endpoint.trigger: endpoint for endpoint in TRIGGER_ENDPOINTS}
# The API's request schema of each trigger, loaded exactly as its endpoint loads it.
_SCHEMAS = {
    trigger: trigger_request_schema(trigger, f"Console{_ENDPOINTS[trigger].schema_name}")()
    for trigger in TRIGGER_FORMS
}
_NEW_VERSION_SCHEMA = CreateVersionSchema()
_CREATE_SCHEMA = CreateFeatureSchema()
_COMMENT_SCHEMA = CreateCommentSchema()


@dataclass(frozen=True)
class Offer:
    """An action shown on the feature page, with the role it would be taken in."""

    trigger: str  # "new_version" for a new version
    title: str
    summary: str
    role: Role


NEW_VERSION = "new_version"


# The triggers a person fires from the feature page, in the lifecycle table's order.
PAGE_TRIGGERS = tuple(
    name for name, trigger in TRIGGERS.items() if name in TRIGGER_FORMS and trigger.action
)


def offers(feature: FeatureData) -> tuple[list[Offer], list[Verdict]]:
    """The triggers the signed-in person may fire on ``feature``, in table order, then a new
    version; and the acts its status allows that they may not take, each with why
    (``console.may_act``; not a new version to whoever holds no role that makes one)."""
    found, refused = [], []
    acts = (*PAGE_TRIGGERS, permissions.NEW_VERSION)
    for verdict in may_act.verdicts([feature], acts)[feature["feature_name"]]:
        if not verdict.allowed or verdict.role is None:
            if verdict.act in TRIGGERS or verdict.rule is not permissions.Rule.ROLE:
                refused.append(verdict)
        elif verdict.act == permissions.NEW_VERSION:
            summary = "Make a new DRAFT version of this feature."
            found.append(Offer(NEW_VERSION, "New version", summary, verdict.role))
        else:
            endpoint = _ENDPOINTS[verdict.act]
            found.append(Offer(verdict.act, endpoint.message, endpoint.summary, verdict.role))
    return found, refused


def title(trigger: str) -> str:
    """What firing ``trigger`` did, in the API's words ("Feature approved and deployed")."""
    return _ENDPOINTS[trigger].message


def _role(user: ConsoleUser, action: Action) -> Role:
    """The person's role for ``action``; the API's own 403 when they hold none that may."""
    role = caller.role_for(action)
    if role is None:
        shown = user.roles[0].value if user.roles else "none"
        raise ForbiddenError(shown, action.value, (r.value for r in PERMISSIONS[action]))
    return role


def load_request(schema: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as the API's schema loads it; its messages as a 422 otherwise (by field
    in ``errors``)."""
    try:
        return dict(schema.load(payload))
    except SchemaError as exc:
        messages = exc.messages_dict
        detail = "; ".join(
            f"{label(str(field))}: {' '.join(str(m) for m in _flat(problem))}"
            for field, problem in messages.items()
        )
        raise ValidationError(detail, messages) from exc


def _flat(problem: Any) -> list[Any]:
    if isinstance(problem, Mapping):
        return [m for inner in problem.values() for m in _flat(inner)]
    return list(problem) if isinstance(problem, list) else [problem]


def fire(
    user: ConsoleUser, trigger: str, feature_name: str, inputs: Mapping[str, Any], revision: int
) -> workflow.TransitionResult:
    """Fire ``trigger`` as ``user`` on the feature at ``revision`` (409 if it changed)."""
    action = TRIGGERS[trigger].action
    if action is None:
        raise ValueError(f"{trigger} is fired by the service, not by callers")
    role = _role(user, action)
    schema = _SCHEMAS[trigger]
    # Each input under the name the API's request gives it (a forced flag is "force").
    given = {
        schema.fields[name].data_key or name: value
        for name, value in inputs.items()
        if value not in (None, "")
    }
    payload = {
        "feature_name": feature_name,
        "user_role": role.value,
        TRIGGER_STAMPS[trigger].actor: user.name,
        **given,
    }
    args = load_request(schema, payload)
    name = args.pop("feature_name")
    args.pop("user_role")
    return workflow.fire_trigger(
        database(),
        trigger,
        name,
        args,
        role=role.value,
        caller=caller.principal(),
        governance=settings().governance,
        expected_revisions={revision},
        quiet_days=settings().retire_quiet_days,
    )


def new_version(
    user: ConsoleUser, feature_name: str, inputs: Mapping[str, Any], revision: int
) -> dict[str, Any]:
    """A new DRAFT version made from the feature as the page showed it (409 otherwise)."""
    role = _role(user, Action.CREATE)
    given = {name: value for name, value in inputs.items() if value not in (None, "")}
    payload = {"feature_name": feature_name, "user_role": role.value, "created_by": user.name}
    args = load_request(_NEW_VERSION_SCHEMA, {**payload, **given})
    args.pop("user_role")
    source, created_by = args.pop("feature_name"), args.pop("created_by")
    return catalog.create_feature_version(
        database(),
        catalog.NewVersion(source, created_by, replaced=args),
        role=role.value,
        caller=caller.principal(),
        governance=settings().governance,
        expected_revisions={revision},
    )


def create(user: ConsoleUser, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A new DRAFT feature created by ``user`` from the console's form, as the API's create
    request would make it (its schema's messages by field as a 422 otherwise)."""
    role = _role(user, Action.CREATE)
    given = {name: value for name, value in inputs.items() if value not in (None, "")}
    payload = {**given, "user_role": role.value, "created_by": user.name}
    args = load_request(_CREATE_SCHEMA, payload)
    args.pop("user_role")
    return features.create_feature(
        database(),
        args,
        role=role.value,
        caller=caller.principal(),
        governance=settings().governance,
    )


def may_comment() -> bool:
    """Whether the signed-in person holds a role that may comment (not admin alone)."""
    return caller.role_for(Action.COMMENT) is not None


def comment(user: ConsoleUser, feature_name: str, body: str) -> comments.CommentData:
    """``user`` comments ``body`` on the feature, checked by the API's request schema."""
    role = _role(user, Action.COMMENT)
    payload = {"body": body, "author": user.name, "user_role": role.value}
    args = load_request(_COMMENT_SCHEMA, payload)
    return comments.add_comment(
        database(),
        feature_name,
        args["body"],
        author=args["author"],
        role=role.value,
        caller=caller.principal(),
    )
