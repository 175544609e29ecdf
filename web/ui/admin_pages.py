"""Admin pages: users, everyone's usage, model costs, the audit log and the system state.

Reads that the JSON API audits (`admin_action`) are audited here the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from quart import Blueprint, Response, request

from actors.jobs.overview import job_overview
from proxy.metering import period_floor
from storage.repos import users as users_repo
from storage.repos.users import UserSort
from storage.schema import USER_STATES
from web import health
from web.auth import audit
from web.auth.audit import AuditEvent
from web.auth.errors import InvalidInput
from web.auth.quart import client_info, current_principal
from web.routes.keys import parse_id
from web.services import Services
from web.ui.core import form, page, render, see_other
from web.ui.costs_pages import register as register_costs
from web.ui.filters import OUTCOMES, RANGES, parse_filter
from web.ui.usage_view import usage_context, usage_service

USER_SORTS = ("id", "email", "display_name", "created_at", "last_login_at", "state")
USERS_PAGE = 25
AUDIT_PAGE = 50
MAX_ID = 2**63 - 1


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number between {low} and {high}")
    return int(raw)


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = request.args.get(name) or default
    if raw not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}")
    return raw


def _text(name: str, limit: int = 200) -> str | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) > limit or not raw.isprintable():
        raise InvalidInput(f"{name} must be at most {limit} printable characters")
    return raw


def _day(name: str) -> datetime | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-11-25") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def record(services: Services, action: str, **details: Any) -> None:
    """Audit an admin read, as the JSON API does."""
    meta = {"action": action, **{k: v for k, v in details.items() if v is not None}}
    event = AuditEvent(audit.ADMIN_ACTION, True, current_principal().user_id, client_info(), meta)
    await services.identity.audit.record(event)


def register(bp: Blueprint, services: Services) -> None:
    """Add the admin pages to `bp`."""
    ident = services.identity

    @bp.get("/admin/users")
    @page(admin=True)
    async def users() -> Response:
        search = _text("search")
        state = request.args.get("state") or None
        if state is not None and state not in USER_STATES:
            raise InvalidInput(f"state must be one of {', '.join(USER_STATES)}")
        sort = _choice("sort", USER_SORTS, "id")
        order = _choice("order", ("asc", "desc"), "asc")
        offset = _int("offset", 0, 0, 1_000_000_000)
        rows, total = await ident.users.list_users(
            search=search,
            state=state,
            sort=cast(UserSort, sort),
            descending=order == "desc",
            limit=USERS_PAGE,
            offset=offset,
        )
        await record(services, "list_users", search=search, state=state)
        base = {"search": search, "state": state, "sort": sort, "order": order}

        def link(**changes: Any) -> str:
            merged = {**base, **changes}
            return urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})

        return render(
            "admin_users.html",
            users=[(row, ident.auth.is_admin(row.email, row.email_verified)) for row in rows],
            total=total,
            offset=offset,
            page_size=USERS_PAGE,
            search=search or "",
            state=state or "",
            sort=sort,
            order=order,
            states=USER_STATES,
            sorts=USER_SORTS,
            link=link,
        )

    @bp.get("/admin/users/<user_id>")
    @page(admin=True)
    async def user(user_id: str) -> Response:
        row = await ident.users.get(parse_id(user_id, "user"))
        keys = await ident.users.keys_of(row.id)
        now = services.now()
        usage = usage_service(services)
        month = await usage.stats(start=period_floor(now, "monthly"), end=now, user_id=row.id)
        await record(services, "view_user", target_user_id=row.id)
        return render(
            "admin_user.html",
            user=row,
            is_admin=ident.auth.is_admin(row.email, row.email_verified),
            keys=[(k, k.status(now)) for k in keys],
            month=month.totals,
            by_model=month.by_model,
            states=USER_STATES,
            updated=request.args.get("updated") == "1",
            myself=row.id == current_principal().user_id,
        )

    @bp.post("/admin/users/<user_id>/state")
    @page(admin=True)
    async def set_state(user_id: str) -> Response:
        target = parse_id(user_id, "user")
        state = (await form()).get("state", "")
        if state not in USER_STATES:
            raise InvalidInput(f"state must be one of {', '.join(USER_STATES)}")
        me = current_principal()
        if target == me.user_id and state != "active":
            raise InvalidInput("admins cannot disable themselves")
        await ident.users.get(target)
        await ident.users.set_state(target, state, actor_id=me.user_id, client=client_info())
        return see_other(f"/admin/users/{target}?updated=1")

    @bp.get("/admin/usage")
    @page(admin=True)
    async def all_usage() -> Response:
        f = parse_filter(request.args, services.now(), admin=True)
        context = await usage_context(services, f, user_id=f.user_id, admin=True)
        emails: dict[int, str] = {}
        ids = sorted({r["user_id"] for r in context["records"]})
        if ids:
            found = await services.db.read(users_repo.get_many, ids)
            emails = {uid: u.email for uid, u in found.items()}
        return render(
            "usage.html",
            **context,
            ranges=RANGES,
            outcomes=OUTCOMES,
            admin=True,
            emails=emails,
            page_path="/admin/usage",
            csv_url=f"/api/admin/usage/records?{f.api_query(format='csv')}",
        )

    @bp.get("/admin/audit")
    @page(admin=True)
    async def audit_log() -> Response:
        user_filter = _int("user_id", 0, 0, MAX_ID) or None
        event_type = request.args.get("event_type") or None
        if event_type is not None and event_type not in audit.EVENT_TYPES:
            raise InvalidInput(f"event_type must be one of {', '.join(audit.EVENT_TYPES)}")
        outcome = _choice("success", ("", "true", "false"), "")
        since, until = _day("since"), _day("until")
        if until is not None:
            until += timedelta(days=1)  # the end day is included
        if since is not None and until is not None and since >= until:
            raise InvalidInput("the first day must not be after the last day")
        cursor = _int("cursor", 0, 0, MAX_ID) or None
        rows = await ident.audit.query(
            user_id=user_filter,
            event_type=event_type,
            success={"true": True, "false": False}.get(outcome),
            since=since,
            until=until,
            before_id=cursor,
            limit=AUDIT_PAGE,
        )
        await record(services, "list_audit_logs", user_id=user_filter, event_type=event_type)
        found = await services.db.read(
            users_repo.get_many, sorted({r.user_id for r in rows if r.user_id is not None})
        )
        filters = {
            "user_id": user_filter,
            "event_type": event_type,
            "success": outcome or None,
            "since": request.args.get("since") or None,
            "until": request.args.get("until") or None,
        }
        kept = {k: v for k, v in filters.items() if v is not None}
        next_link = None
        if len(rows) == AUDIT_PAGE:
            next_link = urlencode({**kept, "cursor": rows[-1].id})
        return render(
            "admin_audit.html",
            entries=rows,
            emails={uid: u.email for uid, u in found.items()},
            event_types=audit.EVENT_TYPES,
            filters={k: "" if v is None else str(v) for k, v in filters.items()},
            next_link=next_link,
            first_page=cursor is None,
        )

    @bp.get("/admin/system")
    @page(admin=True)
    async def system() -> Response:
        checks = await health.run_checks(services, health.CHECKS, False)
        streams = services.tracker.snapshot()
        found = await services.db.read(users_repo.get_many, sorted({s.user_id for s in streams}))
        stats = services.scheduler.statistics() if services.scheduler else None
        jobs = await job_overview(services.db, services.jobs, services.now(), stats)
        return render(
            "admin_system.html",
            checks=checks,
            streams=streams,
            emails={uid: u.email for uid, u in found.items()},
            tracker=services.tracker.statistics(),
            accountant=services.usage.statistics(),
            jobs=jobs,
            scheduler=stats,
            draining=services.is_draining(),
            cache=services.cache.statistics(),
        )

    register_costs(bp, services)
