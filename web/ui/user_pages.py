"""Pages for every signed-in person: sign-in, overview, API keys, usage; and sign-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quart import Blueprint, Response, request

from proxy.metering import period_floor
from storage.errors import LimitReached, NotFound
from storage.repos.api_keys import ApiKeyRow
from web.auth.cookies import CSRF_COOKIE, CSRF_FIELD
from web.auth.errors import InvalidInput
from web.auth.principal import AuthError
from web.auth.quart import (
    authenticate,
    client_info,
    cookie_policy,
    current_principal,
    identity,
    origin,
    redirect_to,
    self_authenticated,
)
from web.routes.keys import parse_id
from web.services import Services
from web.ui.core import (
    SIGN_IN,
    base_path,
    error_page,
    form,
    page,
    public,
    render,
    secure,
    see_other,
)
from web.ui.filters import OUTCOMES, RANGES, parse_filter
from web.ui.snippets import KEY_PLACEHOLDER, setup_snippets
from web.ui.usage_view import usage_context, usage_service

EXPIRY_PRESETS = (30, 90, 180, 365)
SNIPPET_MODEL_HINT = "sonnet"


def expiry_choices(default_days: int | None, max_days: int | None) -> list[tuple[str, str]]:
    """(value, label) for the expiry presets the key policy allows, "never" last."""
    choices = [(str(d), f"{d} days") for d in EXPIRY_PRESETS if max_days is None or d <= max_days]
    if max_days is not None and not choices:
        choices = [(str(max_days), f"{max_days} days")]
    if max_days is None:
        choices.append(("never", "Never expires"))
    return choices


def _origin_url() -> str:
    try:
        return origin().url
    except InvalidInput:
        return f"{request.scheme}://localhost"


def snippets_for(services: Services, key: str) -> list[Any]:
    """Setup snippets for this proxy's public URL and `key`."""
    catalog = services.models.catalog
    names = [m.name for m in catalog.list_models()]
    model = next((n for n in names if SNIPPET_MODEL_HINT in n), names[0] if names else "")
    resolved = services.models.resolve(model) if model else None
    return setup_snippets(
        _origin_url(),
        key=key,
        model=model or "claude-sonnet-4-5",
        bedrock_model_id=resolved.bedrock_id if resolved else model,
        region=services.bedrock.config.region,
    )


def register(bp: Blueprint, services: Services) -> None:
    """Add the personal pages to `bp`."""
    keys_service = services.identity.keys
    policy = keys_service.policy

    @bp.get("/")
    @public
    async def home() -> Response:
        try:
            await authenticate()
        except AuthError:
            if request.cookies.get(CSRF_COOKIE):
                return redirect_to(f"{base_path()}/auth/refresh?next={base_path()}/overview")
            return redirect_to(base_path() + SIGN_IN)
        return redirect_to(base_path() + "/overview")

    @bp.get(SIGN_IN)
    @public
    async def sign_in() -> Response:
        try:
            await authenticate()
        except AuthError:
            pass
        else:
            return redirect_to(base_path() + "/overview")
        prefix = base_path()
        providers = [
            {**spec.public(), "url": f"{prefix}/auth/authorize/{spec.name}"}
            for spec in identity().oauth.providers.values()
        ]
        signed_out = request.args.get("signed_out") == "1"
        return render("sign_in.html", providers=providers, signed_out=signed_out)

    @bp.post("/sign-out")
    @self_authenticated("session")
    @public
    async def sign_out() -> Response:
        fields = await form()
        submitted = fields.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token")
        cookie = request.cookies.get(CSRF_COOKIE)
        try:
            principal = await authenticate()
        except AuthError:
            principal = None
        if principal is None and not cookie:
            return redirect_to(base_path() + SIGN_IN)
        auth = identity().auth
        session_id = principal.session_id if principal is not None else None
        if session_id is not None:
            valid = auth.csrf_valid(session_id, submitted, cookie)
        else:  # an expired session: the double-submitted value is all there is to check
            valid = bool(submitted) and submitted == cookie
        if not valid:
            return error_page(403, "This form has expired. Reload the page and sign out again.")
        if principal is not None:
            await identity().sessions.logout(
                refresh_token=None,
                session_id=session_id,
                user_id=principal.user_id,
                client=client_info(),
            )
        response = see_other(SIGN_IN + "?signed_out=1")
        cookie_policy().clear_session(response)
        return secure(response)

    @bp.get("/overview")
    @page()
    async def overview() -> Response:
        me = current_principal()
        usage = usage_service(services)
        now = services.now()
        month = await usage.stats(start=period_floor(now, "monthly"), end=now, user_id=me.user_id)
        week_start = now - timedelta(days=7)
        week = await usage.stats(start=week_start, end=now, user_id=me.user_id)
        rows = await keys_service.list_keys(me.user_id)
        live = [r for r in rows if r.status(now) == "active"]
        return render(
            "overview.html",
            month=month.totals,
            week=week.totals,
            live_keys=live,
            snippets=snippets_for(services, KEY_PLACEHOLDER),
            placeholder=KEY_PLACEHOLDER,
        )

    async def keys_page(status: int = 200, error: str | None = None, name: str = "") -> Response:
        me = current_principal()
        rows = await keys_service.list_keys(me.user_id)
        now = keys_service.now()
        choices = expiry_choices(policy.default_expiry_days, policy.max_expiry_days)
        default = str(policy.default_expiry_days) if policy.default_expiry_days else choices[0][0]
        asked = request.args.get("revoked", "")
        revoked = next((row.name for row in rows if str(row.id) == asked), None)
        return render(
            "keys.html",
            status,
            keys=[(row, row.status(now)) for row in rows],
            choices=choices,
            default_choice=default if any(v == default for v, _ in choices) else choices[0][0],
            error=error,
            name=name,
            enabled=policy.enabled,
            max_keys=policy.max_keys_per_user,
            revoked=revoked,
        )

    @bp.get("/keys")
    @page()
    async def keys() -> Response:
        return await keys_page()

    @bp.post("/keys")
    @page()
    async def create_key() -> Response:
        fields = await form()
        name = fields.get("name", "")
        allowed = {v for v, _ in expiry_choices(policy.default_expiry_days, policy.max_expiry_days)}
        choice = fields.get("expires_in_days", "")
        try:
            if choice not in allowed:
                raise InvalidInput("choose one of the offered expiry periods")
            days = None if choice == "never" else int(choice)
            created = await keys_service.create(
                current_principal().user_id, name, days, client_info()
            )
        except InvalidInput as exc:
            return await keys_page(400, str(exc), name[:100])
        except LimitReached as exc:
            return await keys_page(409, str(exc), name[:100])
        except AuthError as exc:
            return error_page(exc.status, exc.message)
        return render(
            "key_created.html",
            row=created.row,
            key=created.key,
            snippets=snippets_for(services, created.key),
        )

    async def own_key(raw_id: str) -> ApiKeyRow:
        key_id = parse_id(raw_id, "API key")
        for row in await keys_service.list_keys(current_principal().user_id):
            if row.id == key_id:
                return row
        raise NotFound(f"API key {key_id} not found")

    @bp.get("/keys/<key_id>/revoke")
    @page()
    async def confirm_revoke(key_id: str) -> Response:
        return render("key_revoke.html", row=await own_key(key_id))

    @bp.post("/keys/<key_id>/revoke")
    @page()
    async def revoke_key(key_id: str) -> Response:
        row = await own_key(key_id)
        if (await form()).get("confirm") != "yes":
            return render("key_revoke.html", row=row)
        if row.revoked_at is None:
            await keys_service.revoke(row.id, current_principal().user_id, client_info())
        return see_other(f"/keys?revoked={row.id}")

    @bp.get("/usage")
    @page()
    async def usage() -> Response:
        f = parse_filter(request.args, services.now())
        context = await usage_context(services, f, user_id=current_principal().user_id, admin=False)
        return render(
            "usage.html",
            **context,
            ranges=RANGES,
            outcomes=OUTCOMES,
            admin=False,
            page_path="/usage",
            csv_url=f"/api/usage/records?{f.api_query(format='csv')}",
        )
