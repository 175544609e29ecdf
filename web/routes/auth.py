"""`/auth/...`: sign-in with a provider, token exchange, refresh, logout and `me`."""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, request

from storage.errors import NotFound
from web.auth.cookies import CSRF_COOKIE, CSRF_HEADER, OAUTH_COOKIE, REFRESH_COOKIE
from web.auth.errors import InvalidInput, SignInError
from web.auth.identity import Identity
from web.auth.principal import AuthError, Principal
from web.auth.quart import (
    auth_error,
    authenticate,
    client_info,
    cookie_policy,
    current_principal,
    origin,
    read_json_object,
    redirect_to,
    require_auth,
    self_authenticated,
)
from web.auth.sessions import IssuedSession
from web.auth.views import user_json
from web.http import json_error, json_response

MAX_NEXT_CHARS = 2048


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json"


def html_page(status: int, title: str, message: str) -> Response:
    """A plain page for browser flows (escaped; never a traceback)."""
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        '<p><a href="/">Back to the start page</a></p></html>'
    )
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


def _local_path(target: str | None, prefix: str) -> str:
    # only same-site paths: "/x" but not "//evil" or "/\\evil"
    if not target or len(target) > MAX_NEXT_CHARS or not target.startswith("/"):
        return prefix + "/"
    if target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\t"):
        return prefix + "/"
    return target


def _signed_in(response: Response, session: IssuedSession) -> Response:
    cookie_policy().set_session(
        response,
        access_token=session.access_token,
        access_ttl=session.access_expires_in,
        refresh_token=session.refresh_token,
        refresh_ttl=session.refresh_expires_in,
        csrf_token=session.csrf_token,
    )
    return response


def register(app: Any, ident: Identity) -> None:
    """Add the `/auth` routes to `app`."""
    bp = Blueprint("auth", __name__)
    oauth = ident.oauth

    @bp.get("/auth/providers")
    async def providers() -> Response:
        prefix = cookie_policy().root.rstrip("/")
        listed = [
            {**spec.public(), "authorize_url": f"{prefix}/auth/authorize/{spec.name}"}
            for spec in oauth.providers.values()
        ]
        return json_response({"providers": listed})

    @bp.get("/auth/authorize/<provider>")
    async def authorize(provider: str) -> Response:
        as_json = _wants_json()
        try:
            spec = oauth.get(provider)
            redirect_uri = oauth.redirect_uri(spec, origin())
            asked = request.args.get("redirect_uri")
            if asked is not None and asked != redirect_uri:
                raise InvalidInput(f"redirect_uri must be {redirect_uri} for this provider")
            started = await oauth.begin(
                provider, redirect_uri=redirect_uri, mode="api" if as_json else "browser"
            )
        except NotFound as exc:
            return json_error(404, str(exc)) if as_json else html_page(404, "Unknown", str(exc))
        except InvalidInput as exc:
            return json_error(400, str(exc)) if as_json else html_page(400, "Bad request", str(exc))
        except SignInError as exc:
            if as_json:
                return json_error(exc.status, exc.message)
            return html_page(exc.status, "Sign-in failed", exc.message)
        if as_json:
            return json_response(
                {
                    "provider": provider,
                    "authorization_url": started.url,
                    "state": started.state,
                    "state_binding": started.binding,
                    "redirect_uri": started.redirect_uri,
                    "expires_in": started.expires_in,
                }
            )
        response = redirect_to(started.url)
        response.headers["Cache-Control"] = "no-store"
        cookie_policy().set_oauth_binding(response, started.binding, started.expires_in)
        return response

    @bp.get("/auth/callback/<provider>")
    async def callback(provider: str) -> Response:
        state = request.args.get("state", "")
        code = request.args.get("code", "")
        error = request.args.get("error")
        mode = await oauth.mode_of(state)
        if mode == "api" and error is None:
            return _code_page(code, state)
        policy = cookie_policy()
        try:
            if error is not None:
                await oauth.abandon(provider, state, error, client_info())
                raise SignInError(400, f"the identity provider refused: {error[:100]}", error)
            spec = oauth.get(provider)
            session = await oauth.complete(
                provider,
                code=code,
                state=state,
                binding=request.cookies.get(OAUTH_COOKIE),
                redirect_uri=oauth.redirect_uri(spec, origin()),
                mode="browser",
                client=client_info(),
            )
        except (SignInError, NotFound, InvalidInput) as exc:
            status = exc.status if isinstance(exc, SignInError) else 404
            status = 400 if isinstance(exc, InvalidInput) else status
            message = exc.message if isinstance(exc, SignInError) else str(exc)
            page = html_page(status, "Sign-in failed", message)
            policy.clear_oauth_binding(page)
            return page
        response = redirect_to(policy.root)
        response.headers["Referrer-Policy"] = "no-referrer"
        policy.clear_oauth_binding(response)
        return _signed_in(response, session)

    @bp.post("/auth/token")
    async def token() -> Response:
        try:
            body = await read_json_object()
            fields = {k: body.get(k) for k in ("provider", "code", "state", "state_binding")}
            for name, value in fields.items():
                if not isinstance(value, str) or not value:
                    raise InvalidInput(f"{name} is required (a string)")
            redirect_uri = body.get("redirect_uri")
            if redirect_uri is not None and not isinstance(redirect_uri, str):
                raise InvalidInput("redirect_uri must be a string")
            session = await oauth.complete(
                str(fields["provider"]),
                code=str(fields["code"]),
                state=str(fields["state"]),
                binding=str(fields["state_binding"]),
                redirect_uri=redirect_uri,
                mode="api",
                client=client_info(),
            )
        except InvalidInput as exc:
            return json_error(400, str(exc))
        except NotFound as exc:
            return json_error(404, str(exc))
        except SignInError as exc:
            return json_error(exc.status, exc.message)
        return json_response(session.as_json())

    @bp.post("/auth/refresh")
    @self_authenticated("refresh_token")
    async def refresh() -> Response:
        raw = await request.get_data(cache=True)
        try:
            if raw:  # API client: the token in the body, tokens back in the body
                body = await read_json_object()
                given = body.get("refresh_token")
                if given is None or given == "":
                    raise AuthError(401, "refresh_token is required")
                if not isinstance(given, str):
                    raise InvalidInput("refresh_token must be a string")
                session = await ident.sessions.refresh(given, client_info())
                return json_response(session.as_json())
            cookie = request.cookies.get(REFRESH_COOKIE)
            if not cookie:
                return auth_error(AuthError(401, "no refresh token: sign in again"))
            submitted = request.headers.get(CSRF_HEADER)
            csrf_cookie = request.cookies.get(CSRF_COOKIE)
            session = await ident.sessions.refresh(
                cookie,
                client_info(),
                accept_family=lambda family: ident.auth.csrf_valid(family, submitted, csrf_cookie),
            )
        except InvalidInput as exc:
            return json_error(400, str(exc))
        except AuthError as exc:
            response = auth_error(exc)
            if not raw and exc.status == 401:
                cookie_policy().clear_session(response)
            return response
        response = json_response({"token_type": "cookie", "expires_in": session.access_expires_in})
        return _signed_in(response, session)

    @bp.get("/auth/refresh")
    async def refresh_redirect() -> Response:
        """Browser pages: renew the session from the refresh cookie and go back to `next`."""
        policy = cookie_policy()
        target = _local_path(request.args.get("next"), policy.root.rstrip("/"))
        cookie = request.cookies.get(REFRESH_COOKIE)
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or not cookie:
            response = redirect_to(policy.root)
            policy.clear_session(response)
            return response
        try:
            session = await ident.sessions.refresh(cookie, client_info())
        except AuthError:
            response = redirect_to(policy.root)
            policy.clear_session(response)
            return response
        return _signed_in(redirect_to(target), session)

    @bp.post("/auth/logout")
    @self_authenticated("session_or_refresh_token")
    async def logout() -> Response:
        principal: Principal | None = None
        try:
            principal = await authenticate()
        except AuthError:
            principal = None
        raw = await request.get_data(cache=True)
        given: str | None = None
        try:
            if raw:
                value = (await read_json_object()).get("refresh_token")
                given = value if isinstance(value, str) and value else None
        except InvalidInput as exc:
            return json_error(400, str(exc))
        cookie = request.cookies.get(REFRESH_COOKIE)
        from_cookie = given is None and bool(cookie)
        refresh_token = given or cookie
        if principal is None and not refresh_token:
            response = auth_error(AuthError(401, "not signed in"))
            cookie_policy().clear_session(response)
            return response
        if (principal is not None and principal.method == "session") or (
            principal is None and from_cookie
        ):
            session_id = principal.session_id if principal is not None else None
            if session_id is None and refresh_token:
                found = await ident.sessions.family_of(refresh_token)
                session_id = found[0] if found else None
            submitted = request.headers.get(CSRF_HEADER)
            if not ident.auth.csrf_valid(session_id, submitted, request.cookies.get(CSRF_COOKIE)):
                return json_error(403, f"missing or invalid CSRF token: send {CSRF_HEADER}")
        revoked = await ident.sessions.logout(
            refresh_token=refresh_token,
            session_id=principal.session_id if principal is not None else None,
            user_id=principal.user_id if principal is not None else None,
            client=client_info(),
        )
        response = json_response({"logged_out": True, "sessions_revoked": revoked})
        cookie_policy().clear_session(response)
        return response

    @bp.get("/auth/me")
    @require_auth()
    async def me() -> Response:
        principal = current_principal()
        row = await ident.users.get(principal.user_id)
        body = user_json(row, is_admin=principal.is_admin)
        body["auth_method"] = principal.method
        return json_response(body)

    app.register_blueprint(bp)


def _code_page(code: str, state: str) -> Response:
    """The end of an API client's flow: show the code to paste back into that client."""
    if not code:
        return html_page(400, "Sign-in failed", "the identity provider sent no code")
    return html_page(
        200,
        "Almost signed in",
        f"Copy this code into the application that started the sign-in: {code[:512]}"
        f" (state {state[:64]})",
    )
