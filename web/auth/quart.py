"""Authentication for Quart routes: decorators, the current principal, CSRF, request helpers.

    @bp.get("/api/things")
    @require_auth()
    async def things() -> Response:
        me = current_principal()

`require_auth` accepts `Authorization: Bearer <JWT|SSOK_…>`, `X-API-Key: SSOK_…` or the
session cookie. For cookie sessions, unsafe methods need `X-CSRF-Token` (or a form field
`csrf_token`) equal to the `bsp_csrf` cookie and to the session's own token (403 otherwise).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import quote

from quart import Response, current_app, g, request

from storage.errors import LimitReached, NotFound
from web.auth.audit import ClientInfo
from web.auth.cookies import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, CookiePolicy
from web.auth.errors import InvalidInput
from web.auth.forwarded import Origin, client_ip, request_origin
from web.auth.identity import Identity
from web.auth.principal import AuthError, Principal
from web.context import context_of
from web.http import json_error

EXTENSION = "bedrock.identity"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_MARK = "__bedrock_auth__"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def install(app: Any, identity: Identity) -> None:
    """Make `identity` available to the decorators of `app`'s routes."""
    app.extensions[EXTENSION] = identity


def identity() -> Identity:
    """The identity services of the current app."""
    return cast(Identity, current_app.extensions[EXTENSION])


def current_principal() -> Principal:
    """The principal `require_auth` put on this request."""
    return cast(Principal, g.principal)


def _peer() -> str | None:
    client = request.scope.get("client")
    return str(client[0]) if client else None


def origin() -> Origin:
    """How the client reaches us (public_url, or the request, trusting forwarded headers
    only from `server.trusted_proxies`); `InvalidInput` on a malformed Host."""
    ident = identity()
    return request_origin(
        scheme=request.scheme,
        host=request.host,
        peer=_peer(),
        header=request.headers.get,
        public_url=ident.server.public_url,
        networks=ident.trusted_proxies,
    )


def client_info() -> ClientInfo:
    """The client's address and user agent, for the audit log."""
    ip = client_ip(_peer(), request.headers.get("X-Forwarded-For"), identity().trusted_proxies)
    agent = request.headers.get("User-Agent")
    return ClientInfo(ip=ip, user_agent=agent[:512] if agent else None)


def cookie_policy() -> CookiePolicy:
    """Cookie flags for this request (Secure per `server.cookie_secure`)."""
    try:
        here = origin()
    except InvalidInput:
        here = Origin(request.scheme, "invalid")
    return CookiePolicy(identity().server, here)


async def authenticate() -> Principal:
    """The request's principal (`AuthError` when none); does not check CSRF."""
    headers = cast(Sequence[tuple[bytes, bytes]], request.scope["headers"])
    return await identity().auth.authenticate_request(headers, request.cookies)


async def csrf_ok(principal: Principal) -> bool:
    """True when a cookie-session request carries the session's CSRF token."""
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        submitted = (await request.form).get(CSRF_FIELD)
    return identity().auth.csrf_valid(
        principal.session_id, submitted, request.cookies.get(CSRF_COOKIE)
    )


def auth_error(exc: AuthError) -> Response:
    """Our JSON error for an authentication failure."""
    response = json_error(exc.status, exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bedrock-sso-proxy"'
    return response


def require_auth(*, admin: bool = False, login_redirect: str | None = None) -> Callable[[F], F]:
    """Authenticate the route (401), enforce CSRF for cookie sessions (403), and with
    `admin=True` admit only admins (403). Sets `ctx.user_id` and `g.principal`.

    With `login_redirect` (HTML pages), an anonymous browser is sent to
    `/auth/refresh?next=…` when it still holds a session, else to `login_redirect?next=…`.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                principal = await authenticate()
            except AuthError as exc:
                if exc.status == 401 and login_redirect is not None:
                    return _to_login(login_redirect)
                return auth_error(exc)
            ctx = context_of(request.scope)
            if ctx is not None:
                ctx.user_id = principal.user_id
            unsafe = principal.method == "session" and request.method not in SAFE_METHODS
            if unsafe and not await csrf_ok(principal):
                return json_error(
                    403,
                    f"missing or invalid CSRF token: send the {CSRF_COOKIE} cookie's value"
                    f" in {CSRF_HEADER}",
                )
            if admin and not principal.is_admin:
                return json_error(403, "admins only")
            g.principal = principal
            return await view(*args, **kwargs)

        setattr(wrapper, AUTH_MARK, "admin" if admin else "user")
        return cast(F, wrapper)

    return decorate


def self_authenticated(how: str) -> Callable[[F], F]:
    """Mark a route that checks its own credential (e.g. a refresh token) instead of using
    `require_auth`; the authorization matrix test requires every route to be marked."""

    def decorate(view: F) -> F:
        setattr(view, AUTH_MARK, how)
        return view

    return decorate


def require_admin(*, login_redirect: str | None = None) -> Callable[[F], F]:
    """`require_auth(admin=True)`."""
    return require_auth(admin=True, login_redirect=login_redirect)


def _to_login(login_redirect: str) -> Response:
    here = quote(request.full_path.rstrip("?") if request.query_string else request.path)
    prefix = cookie_policy().root.rstrip("/")
    if request.cookies.get(CSRF_COOKIE):  # a session that may still be refreshed
        return redirect_to(f"{prefix}/auth/refresh?next={here}")
    return redirect_to(f"{login_redirect}?next={here}")


def redirect_to(location: str) -> Response:
    """A 302 to `location` that no cache keeps."""
    response = Response("", status=302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


def api_errors(view: F) -> F:
    """Answer the identity services' errors in our JSON shape: `InvalidInput` 400,
    `AuthError` its status, `NotFound` 404, `LimitReached` 409."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await view(*args, **kwargs)
        except InvalidInput as exc:
            return json_error(400, str(exc))
        except AuthError as exc:
            return auth_error(exc)
        except NotFound as exc:
            return json_error(404, str(exc))
        except LimitReached as exc:
            return json_error(409, str(exc), "limit_reached")

    return cast(F, wrapper)


async def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object; `InvalidInput` (400) for anything else."""
    raw = await request.get_data(cache=True)
    if not raw:
        raise InvalidInput("request body must be a JSON object")
    try:
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError:
        raise InvalidInput("request body is not UTF-8") from None
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body
