"""The web UI: server-rendered pages for people and admins, static files, and the API docs.

Pages are Jinja templates (web/templates, autoescaped) over the same services as the JSON
API; web/static holds our own small CSS and JavaScript (progressive enhancement only: every
form works without it). See docs/web-ui.md.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from web.services import Services
from web.ui import admin_pages, assets, user_pages
from web.ui.core import EXTENSION, PAGE_MARK, Ui, error_page, make_templates

__all__ = ["PAGE_MARK", "error_page", "register"]


def register(app: Any, services: Services) -> None:
    """Add every page, the static files and the docs to `app`."""
    app.extensions[EXTENSION] = Ui(services=services, templates=make_templates())
    bp = Blueprint("ui", __name__)
    user_pages.register(bp, services)
    admin_pages.register(bp, services)
    assets.register(bp, services)
    app.register_blueprint(bp)


def html_error(status: int, message: str) -> Response:
    """The UI's error page, for the app's error handlers (HTML paths only)."""
    return error_page(status, message)
