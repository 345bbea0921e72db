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

from feature_gateway.console.forms import TRIGGER_FORMS, label
from feature_gateway.console.identity import ConsoleUser
from feature_gateway.domain.feature_fields import TRIGGER_STAMPS
from feature_gateway.domain.lifecycle import PERMISSIONS, TRIGGERS, Action, Role, Status
from feature_gateway.errors import ForbiddenError, ValidationError
from feature_gateway.services import catalog, comments, workflow
from feature_gateway.shapes.comment_schemas import CreateCommentSchema
from feature_gateway.shapes.feature_schemas import CreateVersionSchema, trigger_request_schema
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
_COMMENT_SCHEMA = CreateCommentSchema()


@dataclass(frozen=True)
class Offer:
    """An action shown on the feature page, with the role it would be taken in."""

    trigger: str  # "new_version" for a new version
    title: str
    summary: str
    role: Role


NEW_VERSION = "new_version"


def offers(status: str) -> list[Offer]:
    """The triggers the signed-in person may fire on a feature in ``status``, in table
    order, then a new version (allowed from any status to whoever may create features)."""
    found = []
    for name, trigger in TRIGGERS.items():
        if name not in TRIGGER_FORMS or Status(status) not in trigger.sources:
            continue
        role = None if trigger.action is None else caller.role_for(trigger.action)
        if role is not None:
            endpoint = _ENDPOINTS[name]
            found.append(Offer(name, endpoint.message, endpoint.summary, role))
    role = caller.role_for(Action.CREATE)
    if role is not None:
        found.append(
            Offer(NEW_VERSION, "New version", "Make a new DRAFT version of this feature.", role)
        )
    return found


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


def _load(schema: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as the API's schema loads it; its messages as a 422 otherwise."""
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
    args = _load(schema, payload)
    name = args.pop("feature_name")
    args.pop("user_role")
    return workflow.fire_trigger(
        database(),
        trigger,
        name,
        args,
        role=role.value,
        caller=caller.principal(),
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
    args = _load(_NEW_VERSION_SCHEMA, {**payload, **given})
    args.pop("user_role")
    source, created_by = args.pop("feature_name"), args.pop("created_by")
    return catalog.create_feature_version(
        database(),
        catalog.NewVersion(source, created_by, replaced=args),
        role=role.value,
        caller=caller.principal(),
        expected_revisions={revision},
    )


def may_comment() -> bool:
    """Whether the signed-in person holds a role that may comment (not admin alone)."""
    return caller.role_for(Action.COMMENT) is not None


def comment(user: ConsoleUser, feature_name: str, body: str) -> comments.CommentData:
    """``user`` comments ``body`` on the feature, checked by the API's request schema."""
    role = _role(user, Action.COMMENT)
    payload = {"body": body, "author": user.name, "user_role": role.value}
    args = _load(_COMMENT_SCHEMA, payload)
    return comments.add_comment(
        database(),
        feature_name,
        args["body"],
        author=args["author"],
        role=role.value,
        caller=caller.principal(),
    )
