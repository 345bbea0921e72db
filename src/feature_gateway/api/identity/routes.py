"""``GET /whoami``: who the service takes the caller to be (SPEC §12).

Any authenticated caller, whatever its roles (one with none learns so here). In trust mode
a request claims only a role here (``user_role`` or ``X-User-Role``): actor names are
claimed in each write's own fields, so there is no name to report.
"""

from __future__ import annotations

from typing import Any

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.identity.schemas import WhoamiSchema
from feature_gateway.api.problems import Problems
from feature_gateway.api.roles import caller_role
from feature_gateway.domain.lifecycle import Role
from feature_gateway.shapes.role_schemas import RoleQuerySchema
from feature_gateway.web.caller import principal
from feature_gateway.web.context import settings

blp = ApiBlueprint("identity", __name__, description="Who the caller is")


@blp.route("/whoami", methods=["GET"])
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, WhoamiSchema)
@blp.problems(Problems.WHOAMI)
def whoami(args: dict[str, Any]) -> dict[str, Any]:
    """The caller's name, roles, groups and credential, as the service verified them."""
    claimed = caller_role(args.get("user_role"))
    caller = principal()
    auth = settings().auth_mode
    if caller is None:  # trust mode: only what the request claims
        roles = [] if claimed is None else [claimed.value]
        return {"principal": None, "roles": roles, "groups": [], "credential": None, "auth": auth}
    return {
        "principal": caller.name,
        "roles": [role.value for role in Role if role in caller.roles],
        "groups": sorted(caller.groups),
        "credential": caller.credential,
        "auth": auth,
    }
