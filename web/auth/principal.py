"""Who a request is: the authenticated principal, and the error when there is none."""

from __future__ import annotations

from typing import Literal

import attrs

AuthMethod = Literal["api_key", "jwt", "session"]


@attrs.frozen
class Principal:
    """The person behind one request.

    `is_admin` is computed per request from `admin.emails` (verified email only), never read
    from a token. `session_id` is the refresh-token family of a browser session (cookie or
    JWT minted by sign-in), used to bind the CSRF token; None for API keys and CLI tokens.
    """

    user_id: int
    email: str
    display_name: str | None
    is_admin: bool
    method: AuthMethod
    api_key_id: int | None = None
    session_id: str | None = None


class AuthError(Exception):
    """No usable credentials (401) or credentials that may not do this (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"AuthError({self.status}, {self.message!r})"
