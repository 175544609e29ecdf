"""HTTP responses in Bedrock's shapes, and the error type every route raises."""

from __future__ import annotations

import json
from typing import Any

import attrs

Headers = list[tuple[bytes, bytes]]
JSON_CONTENT = (b"content-type", b"application/json")
_BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_CORAL_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"


@attrs.frozen
class Response:
    """A complete, non-streamed HTTP response."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = (JSON_CONTENT,)


class ServiceError(Exception):
    """An error Bedrock would return: status, `x-amzn-errortype` and `{"message": ...}`."""

    def __init__(self, status: int, error_type: str, message: str, *, coral: bool = False):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.namespace = _CORAL_NAMESPACE if coral else _BEDROCK_NAMESPACE

    def response(self) -> Response:
        """This error as Bedrock's JSON response."""
        headers = (
            JSON_CONTENT,
            (b"x-amzn-errortype", f"{self.error_type}:{self.namespace}".encode()),
        )
        return Response(self.status, json_bytes({"message": self.message}), headers)


_ENCODE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_bytes(value: Any) -> bytes:
    """Compact JSON, as Bedrock sends it."""
    return _ENCODE_JSON(value).encode()


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, json_bytes(value))


def validation_error(message: str) -> ServiceError:
    """400 ValidationException."""
    return ServiceError(400, "ValidationException", message)


def malformed_input(detail: str) -> ServiceError:
    """400 ValidationException worded like Bedrock's body schema check."""
    return validation_error(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


# What a fault or a stream exception type looks like as a whole HTTP response.
ERRORS_BY_STREAM_EXCEPTION = {
    "throttlingException": (
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    ),
    "internalServerException": (
        500,
        "InternalServerException",
        "The system encountered an unexpected error during processing. Try your request again.",
    ),
    "serviceUnavailableException": (
        503,
        "ServiceUnavailableException",
        "Bedrock is unable to process your request.",
    ),
    "modelStreamErrorException": (
        424,
        "ModelStreamErrorException",
        "An error occurred while streaming the response. Retry your request.",
    ),
    "modelTimeoutException": (
        408,
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
    ),
    "validationException": (400, "ValidationException", "Input validation failed (emulated)."),
}
STREAM_EXCEPTION_BY_FAULT = {
    "throttle": "throttlingException",
    "server_error": "internalServerException",
    "overloaded": "serviceUnavailableException",
}


def stream_exception_error(exception_type: str) -> ServiceError:
    """The HTTP error matching a stream exception type (for non-streaming routes)."""
    status, error_type, message = ERRORS_BY_STREAM_EXCEPTION[exception_type]
    return ServiceError(status, error_type, message)
