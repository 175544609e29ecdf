"""The browser session's cookies.

`bsp_access` (the access JWT) and `bsp_refresh` (the refresh token, sent only to `/auth`) are
HttpOnly; `bsp_csrf` is readable by the page, which echoes it in `X-CSRF-Token` (or a form
field `csrf_token`) on every unsafe request. All are SameSite=Lax, and Secure when the
proxy is reached over https (`server.cookie_secure: auto`) or always/never as configured.
`bsp_oauth` binds a sign-in in progress to the browser that started it.
"""

from __future__ import annotations

from quart import Response

from web.auth.forwarded import Origin
from web.auth.service import ACCESS_COOKIE
from web.config import ServerConfig

REFRESH_COOKIE = "bsp_refresh"
CSRF_COOKIE = "bsp_csrf"
OAUTH_COOKIE = "bsp_oauth"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
__all__ = [
    "ACCESS_COOKIE",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "OAUTH_COOKIE",
    "REFRESH_COOKIE",
    "CookiePolicy",
]


class CookiePolicy:
    """Writes and clears our cookies with the right flags for one request's origin."""

    def __init__(self, server: ServerConfig, origin: Origin) -> None:
        mode = server.cookie_secure
        self.secure = mode == "always" or (mode == "auto" and origin.https)
        self.root = origin.prefix + "/"
        self.auth_path = origin.prefix + "/auth"

    def _set(self, response: Response, name: str, value: str, max_age: int, path: str, *,
             httponly: bool = True) -> None:  # fmt: skip
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=self.secure,
            httponly=httponly,
            samesite="Lax",
        )

    def set_session(
        self,
        response: Response,
        *,
        access_token: str,
        access_ttl: int,
        refresh_token: str,
        refresh_ttl: int,
        csrf_token: str,
    ) -> None:
        """The signed-in state: access, refresh and CSRF cookies."""
        self._set(response, ACCESS_COOKIE, access_token, access_ttl, self.root)
        self._set(response, REFRESH_COOKIE, refresh_token, refresh_ttl, self.auth_path)
        self._set(response, CSRF_COOKIE, csrf_token, refresh_ttl, self.root, httponly=False)
        response.headers["Cache-Control"] = "no-store"

    def clear_session(self, response: Response) -> None:
        """Signed out: expire every session cookie."""
        for name, path in (
            (ACCESS_COOKIE, self.root),
            (REFRESH_COOKIE, self.auth_path),
            (CSRF_COOKIE, self.root),
        ):
            self._set(response, name, "", 0, path, httponly=name != CSRF_COOKIE)
        response.headers["Cache-Control"] = "no-store"

    def set_oauth_binding(self, response: Response, nonce: str, ttl: int) -> None:
        """The browser-binding nonce of a sign-in in progress."""
        self._set(response, OAUTH_COOKIE, nonce, ttl, self.auth_path)

    def clear_oauth_binding(self, response: Response) -> None:
        """The sign-in is over (either way)."""
        self._set(response, OAUTH_COOKIE, "", 0, self.auth_path)
