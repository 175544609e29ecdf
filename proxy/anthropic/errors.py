"""Bedrock's errors in Anthropic's terms: HTTP status and `error.type`, message text kept.

Clients decide whether to retry from the status and type (the SDKs retry 408, 409, 429 and
5xx; Claude Code reads `overloaded_error` and `rate_limit_error`), and some match on the
message, so Bedrock's own wording is passed on unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from proxy.errors import ProxyError

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
NOT_FOUND = "not_found_error"
REQUEST_TOO_LARGE = "request_too_large"
RATE_LIMIT = "rate_limit_error"
API_ERROR = "api_error"
TIMEOUT = "timeout_error"
OVERLOADED = "overloaded_error"

# x-amzn-errortype of an HTTP error → (status, Anthropic error type)
BEDROCK_ERRORS: Mapping[str, tuple[int, str]] = {
    "ValidationException": (400, INVALID_REQUEST),
    "AccessDeniedException": (403, PERMISSION),
    "ResourceNotFoundException": (404, NOT_FOUND),
    "ThrottlingException": (429, RATE_LIMIT),
    "ServiceQuotaExceededException": (429, RATE_LIMIT),
    "ModelTimeoutException": (504, TIMEOUT),
    "InternalServerException": (500, API_ERROR),
    "ServiceUnavailableException": (529, OVERLOADED),
    "ModelNotReadyException": (529, OVERLOADED),
    "ModelErrorException": (500, API_ERROR),
    "ModelStreamErrorException": (500, API_ERROR),
    # Bedrock refused the proxy's own AWS credentials: nothing the client can fix
    "UnrecognizedClientException": (500, API_ERROR),
    "InvalidSignatureException": (500, API_ERROR),
    "IncompleteSignatureException": (500, API_ERROR),
    "MissingAuthenticationTokenException": (500, API_ERROR),
    "ExpiredTokenException": (500, API_ERROR),
}

# `:exception-type` of a mid-stream exception frame → Anthropic error type of the SSE event
STREAM_ERRORS: Mapping[str, str] = {
    "modelStreamErrorException": API_ERROR,
    "throttlingException": RATE_LIMIT,
    "internalServerException": API_ERROR,
    "serviceUnavailableException": OVERLOADED,
    "validationException": INVALID_REQUEST,
    "modelTimeoutException": TIMEOUT,
}

CREDENTIAL_ERRORS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
    }
)
MAX_MESSAGE_CHARS = 2048


class AnthropicError(ProxyError):
    """An error to answer in Anthropic's format: status, `error.type`, message."""

    def __init__(
        self, status: int, error_type: str, message: str, *, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"AnthropicError({self.status}, {self.error_type!r}, {self.message!r})"


@attrs.frozen
class MappedError:
    """An upstream error translated: what the client sees, and what usage records."""

    status: int
    error_type: str
    message: str
    bedrock_type: str
    retry_after: str | None = None


def bedrock_message(body: bytes) -> str:
    """Bedrock's `message` (or `Message`) from an error body, else the body's text."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("message", "Message"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])[:MAX_MESSAGE_CHARS]
    return body[:MAX_MESSAGE_CHARS].decode("utf-8", "replace").strip()


def map_bedrock_error(
    status: int, error_type_header: str | None, body: bytes, retry_after: str | None = None
) -> MappedError:
    """Bedrock's HTTP error (status, `x-amzn-errortype`, body) in Anthropic's terms."""
    kind = (error_type_header or "").split(":", 1)[0].strip()
    message = bedrock_message(body) or f"Bedrock answered HTTP {status}"
    if kind in BEDROCK_ERRORS:
        mapped_status, mapped_type = BEDROCK_ERRORS[kind]
    else:
        mapped_status, mapped_type = _by_status(status)
        kind = kind or f"http_{status}"
    if kind in CREDENTIAL_ERRORS:
        message = f"Bedrock rejected the proxy's AWS credentials: {message}"
    keep_retry = retry_after if mapped_status in (429, 503, 529) else None
    return MappedError(mapped_status, mapped_type, message, kind, keep_retry)


def _by_status(status: int) -> tuple[int, str]:
    if status == 429:
        return 429, RATE_LIMIT
    if status in (401, 403):
        return 500, API_ERROR  # the proxy's credentials, not the client's
    if status == 404:
        return 404, NOT_FOUND
    if status == 413:
        return 413, REQUEST_TOO_LARGE
    if 400 <= status < 500:
        return 400, INVALID_REQUEST
    if status in (503, 529):
        return 529, OVERLOADED
    if status == 504:
        return 504, TIMEOUT
    return 500, API_ERROR


def stream_error_type(exception_type: str | None) -> str:
    """The Anthropic error type of a Bedrock stream exception frame (`api_error` if unknown)."""
    return STREAM_ERRORS.get(exception_type or "", API_ERROR)
