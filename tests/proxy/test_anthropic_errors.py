"""Bedrock errors in Anthropic's terms."""

from __future__ import annotations

import json

import pytest

from proxy.anthropic import map_bedrock_error, stream_error_type
from proxy.anthropic.errors import bedrock_message


@pytest.mark.parametrize(
    ("bedrock_status", "errortype", "status", "kind"),
    [
        (400, "ValidationException", 400, "invalid_request_error"),
        (403, "AccessDeniedException", 403, "permission_error"),
        (404, "ResourceNotFoundException", 404, "not_found_error"),
        (429, "ThrottlingException", 429, "rate_limit_error"),
        (400, "ServiceQuotaExceededException", 429, "rate_limit_error"),
        (408, "ModelTimeoutException", 504, "timeout_error"),
        (500, "InternalServerException", 500, "api_error"),
        (503, "ServiceUnavailableException", 529, "overloaded_error"),
        (429, "ModelNotReadyException", 529, "overloaded_error"),
        (424, "ModelErrorException", 500, "api_error"),
        (424, "ModelStreamErrorException", 500, "api_error"),
        (403, "UnrecognizedClientException", 500, "api_error"),
        (403, "InvalidSignatureException", 500, "api_error"),
        (409, "ConflictException", 400, "invalid_request_error"),
        (413, None, 413, "request_too_large"),
        (502, None, 500, "api_error"),
        (503, None, 529, "overloaded_error"),
        (504, None, 504, "timeout_error"),
    ],
)
def test_status_and_type(
    bedrock_status: int, errortype: str | None, status: int, kind: str
) -> None:
    header = (
        f"{errortype}:http://internal.amazon.com/coral/com.amazon.bedrock/" if errortype else None
    )
    body = json.dumps({"message": "Bedrock says so."}).encode()
    mapped = map_bedrock_error(bedrock_status, header, body, retry_after="7")
    assert (mapped.status, mapped.error_type) == (status, kind)
    assert mapped.message.endswith("Bedrock says so.")  # Bedrock's wording is kept
    assert mapped.bedrock_type == (errortype or f"http_{bedrock_status}")
    assert mapped.retry_after == ("7" if status in (429, 529) else None)


def test_credential_errors_say_whose_credentials() -> None:
    mapped = map_bedrock_error(403, "ExpiredTokenException", b'{"message":"The token expired"}')
    assert mapped.message == "Bedrock rejected the proxy's AWS credentials: The token expired"


def test_messages_from_odd_bodies() -> None:
    assert bedrock_message(b'{"Message": "Upper"}') == "Upper"
    assert bedrock_message(b"plain text\n") == "plain text"
    assert bedrock_message(b"x" * 5000) == "x" * 2048
    assert map_bedrock_error(500, None, b"").message == "Bedrock answered HTTP 500"


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        ("modelStreamErrorException", "api_error"),
        ("throttlingException", "rate_limit_error"),
        ("internalServerException", "api_error"),
        ("serviceUnavailableException", "overloaded_error"),
        ("validationException", "invalid_request_error"),
        ("modelTimeoutException", "timeout_error"),
        ("somethingNewException", "api_error"),
        (None, "api_error"),
    ],
)
def test_stream_exceptions(exception: str | None, kind: str) -> None:
    assert stream_error_type(exception) == kind
