"""Errors of the identity services that routes turn into 4xx answers."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request is malformed or out of range (400); the message says what to fix."""


class SignInError(Exception):
    """A sign-in that cannot complete; `status` is what the caller answers (400, 403 or 502)."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
