"""Per-request context shared by the front door, the routes and the access log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

import attrs

SCOPE_KEY = "bedrock.ctx"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


@attrs.define(eq=False)
class RequestContext:
    """What the access log and metrics need to know about one request."""

    request_id: str
    started: float
    generated_id: bool = True
    route: str = "unmatched"
    user_id: int | None = None
    status: int = 0
    usage_id: str | None = None


def request_id_from(headers: list[tuple[bytes, bytes]]) -> tuple[str, bool]:
    """Reuse a well-formed incoming `x-request-id`, else make a new one; True when new."""
    for name, value in headers:
        if name == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode(), False
    return "req_" + secrets.token_hex(12), True


def context_of(scope: Mapping[str, object]) -> RequestContext | None:
    """The context the front door attached to this scope (None outside it, e.g. in unit tests)."""
    ctx = scope.get(SCOPE_KEY)
    return ctx if isinstance(ctx, RequestContext) else None
