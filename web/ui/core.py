"""The web UI's plumbing: templates, security headers, the page guard and error pages.

    @bp.get("/keys")
    @page()                      # or @page(admin=True)
    async def keys() -> Response:
        return render("keys.html", keys=...)

`page` authenticates like `require_auth` (session cookie, Bearer or x-api-key), sends an
anonymous browser to sign in (or through `/auth/refresh` when a session may be renewed),
checks the CSRF token of every unsafe cookie-session request, and answers refusals and bad
input with friendly HTML pages instead of JSON.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
from urllib.parse import quote

import attrs
import jinja2
from quart import Response, current_app, g, request

from storage.errors import LimitReached, NotFound, StorageError
from web.auth.cookies import CSRF_COOKIE
from web.auth.errors import InvalidInput
from web.auth.principal import AuthError, Principal
from web.auth.quart import AUTH_MARK, authenticate, cookie_policy, csrf_ok, identity, redirect_to
from web.context import context_of
from web.services import Services
from web.ui import format as fmt

log = logging.getLogger("bedrock.ui")

EXTENSION = "bedrock.ui"
PAGE_MARK = "__bedrock_page__"
SIGN_IN = "/sign-in"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Swagger UI sets style attributes in its markup; its scripts are still 'self' only
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@attrs.frozen
class Ui:
    """What pages need: the services and the template environment."""

    services: Services
    templates: jinja2.Environment


def make_templates() -> jinja2.Environment:
    """The Jinja environment: package templates, autoescaping everywhere, strict names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        tokens=fmt.tokens,
        money=fmt.money,
        price=fmt.price,
        decimal=fmt.decimal_text,
        when=fmt.when,
        ms=fmt.duration_ms,
        age=fmt.age,
        size=fmt.size,
    )
    return env


def ui() -> Ui:
    """The UI state of the current app."""
    return cast(Ui, current_app.extensions[EXTENSION])


def base_path() -> str:
    """The path prefix under which browsers reach us ("" or e.g. "/llm")."""
    return cookie_policy().root.rstrip("/")


def secure(response: Response, *, csp: str = CSP, cache: str = "no-store") -> Response:
    """Security headers for pages and assets (values already set are kept)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", cache)
    return response


def principal_or_none() -> Principal | None:
    """The principal `page` checked for this request, if any."""
    return cast(Principal | None, g.get("principal"))


def csrf_value() -> str:
    """The CSRF token to put in this page's forms ("" without a cookie session)."""
    me = principal_or_none()
    if me is None or me.session_id is None:
        return ""
    return identity().auth.csrf_token(me.session_id)


NAV = (
    ("/overview", "Overview", False),
    ("/keys", "API keys", False),
    ("/usage", "Usage", False),
    ("/admin/users", "Users", True),
    ("/admin/usage", "All usage", True),
    ("/admin/costs", "Model costs", True),
    ("/admin/audit", "Audit log", True),
    ("/admin/system", "System", True),
)


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page from `template`, never cached, with the security headers."""
    me = principal_or_none()
    here = request.path
    nav = [
        {"href": href, "label": label, "current": here == href or here.startswith(href + "/")}
        for href, label, admin_only in NAV
        if me is not None and (me.is_admin or not admin_only)
    ]
    body = (
        ui()
        .templates.get_template(template)
        .render(
            base=base_path(),
            me=me,
            csrf=csrf_value(),
            nav=nav,
            version=ui().services.version,
            **context,
        )
    )
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    return secure(response)


def error_page(status: int, message: str, title: str | None = None) -> Response:
    """A friendly error page (the message is escaped; never a traceback)."""
    titles = {
        400: "That did not work",
        403: "Not allowed",
        404: "Not found",
        405: "Not allowed",
        409: "Conflict",
        413: "Too large",
        503: "Unavailable",
    }
    heading = title or titles.get(status, "Something went wrong")
    try:
        return render("error.html", status, title=heading, message=message, code=status)
    except Exception:  # the error page itself must not fail: plain text as a last resort
        log.exception("cannot render the error page")
        return secure(Response(message, status=status, content_type="text/plain; charset=utf-8"))


def _to_sign_in() -> Response:
    here = quote(request.full_path.rstrip("?") if request.query_string else request.path)
    prefix = base_path()
    if request.cookies.get(CSRF_COOKIE) and request.method in SAFE_METHODS:
        return redirect_to(f"{prefix}/auth/refresh?next={here}")  # a session to renew
    target = here if request.method in SAFE_METHODS else quote(request.path)
    return redirect_to(f"{prefix}{SIGN_IN}?next={target}")


def page(*, admin: bool = False) -> Callable[[F], F]:
    """Guard an HTML page (see the module docstring)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                principal = await authenticate()
            except AuthError as exc:
                if exc.status == 401:
                    return _to_sign_in()
                return error_page(exc.status, exc.message)
            ctx = context_of(request.scope)
            if ctx is not None:
                ctx.user_id = principal.user_id
            g.principal = principal
            unsafe = principal.method == "session" and request.method not in SAFE_METHODS
            if unsafe and not await csrf_ok(principal):
                return error_page(
                    403,
                    "This form has expired or was sent from another site. Go back, reload the"
                    " page and try again.",
                    "Form expired",
                )
            if admin and not principal.is_admin:
                return error_page(403, "This page is for admins only.")
            try:
                return await view(*args, **kwargs)
            except InvalidInput as exc:
                return error_page(400, str(exc))
            except NotFound as exc:
                return error_page(404, str(exc))
            except LimitReached as exc:
                return error_page(409, str(exc))
            except StorageError:
                return error_page(503, "The database cannot answer right now; retry shortly.")

        setattr(wrapper, AUTH_MARK, "admin" if admin else "user")
        setattr(wrapper, PAGE_MARK, True)
        return cast(F, wrapper)

    return decorate


def public(view: F) -> F:
    """Mark a page that anyone may see (sign-in, docs, assets)."""
    setattr(view, PAGE_MARK, True)
    return view


def see_other(location: str) -> Response:
    """A 303 after a successful form post (post/redirect/get), never cached."""
    response = redirect_to(base_path() + location)
    response.status_code = 303
    return response


async def form() -> dict[str, str]:
    """The submitted form fields (first value of each), empty for other bodies."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {}
    data = await request.form
    return {name: data.get(name, "") for name in data}
