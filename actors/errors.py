"""Actor failures that end the process."""

from __future__ import annotations


class ActorError(Exception):
    """Base class of actor failures."""


class ActorFailed(ActorError):
    """An actor crashed more often than its restart policy allows; the process must exit."""
