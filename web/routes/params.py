"""Query-string parameters, validated: a bad value is `InvalidInput` (400) naming the fix."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from quart import request

from web.auth.errors import InvalidInput

MAX_TEXT = 200


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer in [low, high], or `default` when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 20 or not low <= int(text) <= high:
        raise InvalidInput(f"{name} must be a whole number between {low} and {high}")
    return int(text)


def choice_arg(name: str, choices: Sequence[str], default: str | None) -> str | None:
    """One of `choices`, or `default` when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}")
    return raw


def bool_arg(name: str) -> bool | None:
    """true/false (also 1/0), or None when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{name} must be true or false")


def text_arg(name: str) -> str | None:
    """Free text up to 200 characters (trimmed), or None."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_TEXT or any(not ch.isprintable() for ch in raw):
        raise InvalidInput(f"{name} must be at most {MAX_TEXT} printable characters")
    return raw.strip()


def time_arg(name: str) -> datetime | None:
    """An ISO 8601 time (UTC when no offset is given) or Unix seconds, or None."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"{name} must be an ISO 8601 time or Unix seconds") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
