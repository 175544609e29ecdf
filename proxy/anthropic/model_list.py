"""`GET /v1/models` in Anthropic's list format, with its cursor paging (sans-I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from proxy.anthropic.errors import INVALID_REQUEST, AnthropicError
from proxy.models import ResolvedModel

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # Anthropic's documented value for an unknown date


def model_info(model: ResolvedModel) -> dict[str, Any]:
    """One `ModelInfo` object."""
    created = (model.created_at or EPOCH).astimezone(UTC)
    return {
        "type": "model",
        "id": model.name,
        "display_name": model.display_name,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def model_page(models: Sequence[ResolvedModel], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of the list: `limit` (1-1000, default 20) after `after_id` or before
    `before_id`; raises `AnthropicError` (400) for a bad parameter."""
    limit = _limit(query.get("limit"))
    after, before = query.get("after_id"), query.get("before_id")
    if after is not None and before is not None:
        raise AnthropicError(400, INVALID_REQUEST, "before_id and after_id cannot both be set")
    ids = [m.name for m in models]
    if after is not None:
        start = _position(ids, after, "after_id") + 1
        window, has_more = models[start : start + limit], start + limit < len(models)
    elif before is not None:
        end = _position(ids, before, "before_id")
        start = max(end - limit, 0)
        window, has_more = models[start:end], start > 0
    else:
        window, has_more = models[:limit], limit < len(models)
    data = [model_info(m) for m in window]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise AnthropicError(
            400, INVALID_REQUEST, "limit: Input should be a valid integer"
        ) from None
    if not 1 <= value <= MAX_LIMIT:
        raise AnthropicError(
            400, INVALID_REQUEST, f"limit: Input should be between 1 and {MAX_LIMIT}"
        )
    return value


def _position(ids: list[str], cursor: str, name: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise AnthropicError(400, INVALID_REQUEST, f"{name}: unknown model id {cursor!r}") from None


def encode(value: Mapping[str, Any]) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
