"""Small response helpers for the Quart side."""

from __future__ import annotations

import json
from typing import Any

from quart import Response, request

from web.context import context_of
from web.errors import api_error


def request_id() -> str | None:
    """The current request's id."""
    ctx = context_of(request.scope)
    return ctx.request_id if ctx else None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response that is never cached by shared caches."""
    response = Response(
        json.dumps(body, default=str), status=status, content_type="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_error(status: int, message: str, code: str | None = None) -> Response:
    """Our JSON API's error shape."""
    response = Response(
        api_error(status, message, request_id(), code),
        status=status,
        content_type="application/json",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
