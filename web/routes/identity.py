"""Registering everything about identity on the Quart app: sign-in, keys, admin."""

from __future__ import annotations

from typing import Any

from web.auth.identity import Identity
from web.auth.quart import install
from web.routes import admin, auth, keys


def register(app: Any, identity: Identity) -> None:
    """Install the identity services and add their routes."""
    install(app, identity)
    auth.register(app, identity)
    keys.register(app, identity)
    admin.register(app, identity)
