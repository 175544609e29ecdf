"""`/api/admin/...`: users, their state and keys, and the audit log (admins only).

Reads are audited as `admin_action`; a state change is audited as `user_state_changed`
naming the admin (`by_user_id`).
"""

from __future__ import annotations

from typing import Any, cast

from quart import Blueprint, Response

from storage.repos.users import UserSort
from storage.schema import USER_STATES
from web.auth import audit
from web.auth.audit import AuditEvent
from web.auth.errors import InvalidInput
from web.auth.identity import Identity
from web.auth.quart import (
    api_errors,
    client_info,
    current_principal,
    read_json_object,
    require_admin,
)
from web.auth.views import audit_json, key_json, user_json
from web.http import json_response
from web.routes.keys import MAX_ID, parse_id
from web.routes.params import bool_arg, choice_arg, int_arg, text_arg, time_arg

SORTS = ("id", "email", "display_name", "created_at", "last_login_at", "state")
MAX_PAGE = 200
MAX_OFFSET = 1_000_000_000


def register(app: Any, ident: Identity) -> None:
    """Add the admin routes to `app`."""
    bp = Blueprint("admin", __name__)
    users, auth = ident.users, ident.auth

    async def record(action: str, **details: Any) -> None:
        principal = current_principal()
        meta = {"action": action, **{k: v for k, v in details.items() if v is not None}}
        event = AuditEvent(audit.ADMIN_ACTION, True, principal.user_id, client_info(), meta)
        await ident.audit.record(event)

    def shown(row: Any) -> dict[str, Any]:
        return user_json(row, is_admin=auth.is_admin(row.email, row.email_verified))

    @bp.get("/api/admin/users")
    @require_admin()
    @api_errors
    async def list_users() -> Response:
        limit = int_arg("limit", 50, 1, MAX_PAGE) or 50
        offset = int_arg("offset", 0, 0, MAX_OFFSET) or 0
        sort = choice_arg("sort", SORTS, "id") or "id"
        order = choice_arg("order", ("asc", "desc"), "asc")
        search = text_arg("search")
        state = choice_arg("state", USER_STATES, None)
        rows, total = await users.list_users(
            search=search,
            state=state,
            sort=cast(UserSort, sort),
            descending=order == "desc",
            limit=limit,
            offset=offset,
        )
        await record("list_users", search=search, state=state)
        return json_response(
            {
                "users": [shown(row) for row in rows],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    @bp.get("/api/admin/users/<user_id>")
    @require_admin()
    @api_errors
    async def get_user(user_id: str) -> Response:
        row = await users.get(parse_id(user_id, "user"))
        await record("view_user", target_user_id=row.id)
        return json_response(shown(row))

    @bp.put("/api/admin/users/<user_id>/state")
    @require_admin()
    @api_errors
    async def set_state(user_id: str) -> Response:
        target = parse_id(user_id, "user")
        body = await read_json_object()
        state = body.get("state")
        if not isinstance(state, str) or state not in USER_STATES:
            raise InvalidInput(f"state must be one of {', '.join(USER_STATES)}")
        principal = current_principal()
        if target == principal.user_id and state != "active":
            raise InvalidInput("admins cannot disable themselves")
        await users.get(target)
        row = await users.set_state(target, state, actor_id=principal.user_id, client=client_info())
        return json_response(shown(row))

    @bp.get("/api/admin/users/<user_id>/keys")
    @require_admin()
    @api_errors
    async def user_keys(user_id: str) -> Response:
        target = parse_id(user_id, "user")
        rows = await users.keys_of(target)
        await record("view_user_keys", target_user_id=target)
        now = ident.keys.now()
        return json_response({"keys": [key_json(row, now) for row in rows]})

    @bp.get("/api/admin/audit-logs")
    @require_admin()
    @api_errors
    async def audit_logs() -> Response:
        limit = int_arg("limit", 50, 1, MAX_PAGE) or 50
        since, until = time_arg("since"), time_arg("until")
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must be before until")
        user_id = int_arg("user_id", None, 1, MAX_ID)
        event_type = choice_arg("event_type", audit.EVENT_TYPES, None)
        rows = await ident.audit.query(
            user_id=user_id,
            event_type=event_type,
            success=bool_arg("success"),
            since=since,
            until=until,
            before_id=int_arg("cursor", None, 1, MAX_ID),
            limit=limit,
        )
        await record("list_audit_logs", user_id=user_id, event_type=event_type)
        next_cursor = rows[-1].id if len(rows) == limit else None
        return json_response({"entries": [audit_json(r) for r in rows], "next_cursor": next_cursor})

    app.register_blueprint(bp)
