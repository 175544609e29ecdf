"""Storage errors: what callers above may catch, with the driver's exception as cause."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of storage failures."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached or refused the write (down, read-only, locked)."""


class MigrationError(StorageError):
    """A schema migration could not be applied or the schema is not at the expected revision."""


class NotFound(StorageError):
    """The row asked for does not exist (or is not visible to the caller)."""


class Conflict(StorageError):
    """The write conflicts with an existing row (a unique constraint)."""


class LimitReached(Conflict):
    """A per-owner limit (such as `api_keys.max_keys_per_user`) would be exceeded."""
