"""Error bodies in the three formats clients speak: our JSON API, Anthropic's and Bedrock's."""

from __future__ import annotations

import json
from typing import Any

# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors)
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Bedrock's x-amzn-errortype by HTTP status, for errors the proxy itself raises
BEDROCK_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    405: "ValidationException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "ServiceUnavailableException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}

API_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
}

Headers = list[tuple[bytes, bytes]]


def api_error(status: int, message: str, request_id: str | None, code: str | None = None) -> bytes:
    """`{"error": {"code", "message"}, "request_id"}` for /api, /auth and /health."""
    body: dict[str, Any] = {
        "error": {"code": code or API_CODES.get(status, "error"), "message": message},
        "request_id": request_id,
    }
    return json.dumps(body).encode()


def anthropic_error(
    status: int, message: str, request_id: str | None, error_type: str | None = None
) -> bytes:
    """Anthropic's `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    body = {
        "type": "error",
        "error": {
            "type": error_type or ANTHROPIC_TYPES.get(status, "api_error"),
            "message": message,
        },
        "request_id": request_id,
    }
    return json.dumps(body).encode()


def bedrock_error(
    status: int, message: str, error_type: str | None = None
) -> tuple[bytes, Headers]:
    """Bedrock's `{"message": ...}` body and its `x-amzn-errortype` header."""
    kind = error_type or BEDROCK_TYPES.get(status, "InternalServerException")
    return json.dumps({"message": message}).encode(), [(b"x-amzn-errortype", kind.encode())]


def error_format_for(path: str) -> str:
    """Which error format a path speaks: "anthropic", "bedrock", "api" or "html"."""
    if path.startswith("/anthropic/"):
        return "anthropic"
    if path.startswith("/bedrock/"):
        return "bedrock"
    if path.startswith(("/api/", "/auth/", "/health", "/openapi", "/docs/openapi")):
        return "api"
    return "html"


def error_response(
    path: str, status: int, message: str, request_id: str | None
) -> tuple[bytes, Headers]:
    """A complete error body and headers for `path`'s format (html pages get plain text)."""
    kind = error_format_for(path)
    json_type = (b"content-type", b"application/json")
    if kind == "anthropic":
        rid = [(b"request-id", request_id.encode())] if request_id else []
        return anthropic_error(status, message, request_id), [json_type, *rid]
    if kind == "bedrock":
        body, headers = bedrock_error(status, message)
        return body, [json_type, *headers]
    if kind == "api":
        return api_error(status, message, request_id), [json_type]
    return message.encode(), [(b"content-type", b"text/plain; charset=utf-8")]
