"""Paths of sign-in (/auth), API keys (/api/keys) and user administration (/api/admin)."""

from __future__ import annotations

from typing import Any

from storage.schema import USER_STATES
from web.auth.audit import EVENT_TYPES
from web.openapi.common import (
    ID,
    STRING,
    api_errors,
    body,
    json_content,
    ok,
    operation,
    path_param,
    query,
    ref,
)

PUBLIC: list[dict[str, list[str]]] = []
REDIRECT = {"description": "Redirect", "headers": {"Location": {"schema": STRING}}}
HTML: dict[str, Any] = {"text/html": {"schema": STRING}}
HTML_PAGE: dict[str, Any] = {"description": "A small HTML page", "content": HTML}
PROVIDER = path_param("provider", STRING, "The provider's name from /auth/providers")
USER_ID = path_param("user_id", ID, "A user's id")
LIMIT_200 = {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
TIME = {"type": "string", "description": "ISO 8601 (UTC without an offset) or Unix seconds"}


def identity_paths() -> dict[str, Any]:
    """The /auth, /api/keys and /api/admin (users, audit) paths."""
    return {
        "/auth/providers": {
            "get": operation(
                "List the sign-in providers",
                "auth",
                ok("Configured providers", ref("ProviderList")),
                security=PUBLIC,
                operation_id="listProviders",
            )
        },
        "/auth/authorize/{provider}": {
            "get": operation(
                "Start a sign-in",
                "auth",
                {
                    **ok(
                        "For API callers (Accept: application/json or format=json)",
                        ref("AuthorizeStarted"),
                    ),
                    "302": REDIRECT,
                    "400": {
                        "description": "Bad redirect_uri (JSON for API callers, else HTML)",
                        "content": {**json_content(ref("ApiError")), **HTML},
                    },
                    "404": {
                        "description": "Unknown provider",
                        "content": {**json_content(ref("ApiError")), **HTML},
                    },
                    "502": {
                        "description": "The provider's discovery failed",
                        "content": {**json_content(ref("ApiError")), **HTML},
                    },
                },
                description="Browsers get a 302 to the provider and a binding cookie; API"
                " callers get the authorization URL and a state binding to redeem at"
                " /auth/token.",
                parameters=[
                    PROVIDER,
                    query("format", {"type": "string", "enum": ["json"]}, "Answer in JSON"),
                    query("redirect_uri", STRING, "Must equal the provider's redirect URI"),
                ],
                security=PUBLIC,
                operation_id="authorize",
            )
        },
        "/auth/callback/{provider}": {
            "get": operation(
                "The provider sends the browser back here",
                "auth",
                {
                    "302": REDIRECT,
                    "200": HTML_PAGE,
                    "400": HTML_PAGE,
                    "403": HTML_PAGE,
                    "404": HTML_PAGE,
                    "502": HTML_PAGE,
                },
                description="Ends a browser sign-in with the session cookies and a 302 to the"
                " web UI, or shows an API client's code; failures are small HTML pages.",
                parameters=[
                    PROVIDER,
                    query("state", STRING, "The state from /auth/authorize"),
                    query("code", STRING, "The authorization code"),
                    query("error", STRING, "The provider's error, if it refused"),
                ],
                security=PUBLIC,
                operation_id="callback",
            )
        },
        "/auth/token": {
            "post": operation(
                "Exchange a sign-in code for tokens (API clients)",
                "auth",
                {**ok("Tokens", ref("Tokens")), **api_errors(400, 403, 404, 413)},
                request_body=body(ref("TokenRequest")),
                security=PUBLIC,
                operation_id="exchangeCode",
            )
        },
        "/auth/refresh": {
            "post": operation(
                "Rotate a refresh token",
                "auth",
                {
                    "200": {
                        "description": "New tokens (body) or renewed cookies (cookie session)",
                        "content": json_content({"oneOf": [ref("Tokens"), ref("CookieRefreshed")]}),
                    },
                    **api_errors(400, 401, 403, 413),
                },
                description="API clients send {refresh_token}; browsers send an empty body"
                " with the refresh cookie and X-CSRF-Token. A reused token revokes its family.",
                request_body=body(ref("RefreshRequest"), required=False),
                security=PUBLIC,
                operation_id="refresh",
            ),
            "get": operation(
                "Renew a browser session and go back to a page",
                "auth",
                {"302": REDIRECT},
                parameters=[query("next", STRING, "A local path to return to")],
                security=PUBLIC,
                operation_id="refreshRedirect",
            ),
        },
        "/auth/logout": {
            "post": operation(
                "Sign out: revoke the session's refresh tokens and clear the cookies",
                "auth",
                {**ok("Signed out", ref("LoggedOut")), **api_errors(400, 401, 403, 413)},
                request_body=body(ref("LogoutRequest"), required=False),
                operation_id="logout",
            )
        },
        "/auth/me": {
            "get": operation(
                "Who am I",
                "auth",
                {**ok("The caller", ref("Me")), **api_errors(401, 403)},
                operation_id="me",
            )
        },
        "/api/keys": {
            "get": operation(
                "List my API keys",
                "keys",
                {**ok("Keys, newest first", ref("ApiKeyList")), **api_errors(401, 403)},
                operation_id="listKeys",
            ),
            "post": operation(
                "Create an API key (shown once)",
                "keys",
                {
                    **ok("The new key", ref("ApiKeyCreated"), "201"),
                    **api_errors(400, 401, 403, 409, 413),
                },
                request_body=body(ref("ApiKeyCreate")),
                operation_id="createKey",
            ),
        },
        "/api/keys/{key_id}": {
            "delete": operation(
                "Revoke one of my API keys",
                "keys",
                {**ok("The revoked key", ref("ApiKey")), **api_errors(401, 403, 404)},
                parameters=[path_param("key_id", ID, "The key's id")],
                operation_id="revokeKey",
            )
        },
        "/api/admin/users": {
            "get": operation(
                "List users (admins)",
                "admin",
                {**ok("A page of users", ref("UserPage")), **api_errors(400, 401, 403)},
                parameters=[
                    query("limit", LIMIT_200, "Page size"),
                    query("offset", {"type": "integer", "minimum": 0}, "Rows to skip"),
                    query(
                        "sort",
                        {
                            "type": "string",
                            "enum": [
                                "id",
                                "email",
                                "display_name",
                                "created_at",
                                "last_login_at",
                                "state",
                            ],
                        },
                        "Sort column",
                    ),
                    query("order", {"type": "string", "enum": ["asc", "desc"]}, "Direction"),
                    query("search", {"type": "string", "maxLength": 200}, "In email or name"),
                    query("state", {"type": "string", "enum": list(USER_STATES)}, "State"),
                ],
                operation_id="listUsers",
            )
        },
        "/api/admin/users/{user_id}": {
            "get": operation(
                "One user (admins)",
                "admin",
                {**ok("The user", ref("User")), **api_errors(401, 403, 404)},
                parameters=[USER_ID],
                operation_id="getUser",
            )
        },
        "/api/admin/users/{user_id}/state": {
            "put": operation(
                "Set a user's state (admins); leaving active ends every session",
                "admin",
                {**ok("The user", ref("User")), **api_errors(400, 401, 403, 404, 413)},
                parameters=[USER_ID],
                request_body=body(ref("UserStateChange")),
                operation_id="setUserState",
            )
        },
        "/api/admin/users/{user_id}/keys": {
            "get": operation(
                "A user's API keys (admins)",
                "admin",
                {**ok("Keys", ref("ApiKeyList")), **api_errors(401, 403, 404)},
                parameters=[USER_ID],
                operation_id="getUserKeys",
            )
        },
        "/api/admin/audit-logs": {
            "get": operation(
                "The audit log, newest first (admins)",
                "admin",
                {**ok("A page of entries", ref("AuditPage")), **api_errors(400, 401, 403)},
                parameters=[
                    query("user_id", ID, "Only this user"),
                    query("event_type", {"type": "string", "enum": list(EVENT_TYPES)}, "Event"),
                    query("success", {"type": "boolean"}, "Outcome"),
                    query("since", TIME, "From (inclusive)"),
                    query("until", TIME, "Until (exclusive)"),
                    query("limit", LIMIT_200, "Page size"),
                    query("cursor", ID, "next_cursor of the previous page"),
                ],
                operation_id="listAuditLogs",
            )
        },
    }
