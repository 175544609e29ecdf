"""The Quart application: everything but the data-plane routes."""

from __future__ import annotations

import logging

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from web import health
from web.context import context_of
from web.errors import error_format_for, error_response
from web.routes import identity as identity_routes
from web.routes import metering as metering_routes
from web.services import Services
from web.ui import html_error
from web.ui import register as register_ui

log = logging.getLogger("bedrock.web")


def create_app(services: Services) -> QuartTrio:
    """A Quart app wired to `services`."""
    app = QuartTrio("bedrock_sso_proxy", static_folder=None)  # web/ui serves /static
    app.config.update(
        MAX_CONTENT_LENGTH=services.streaming.max_request_bytes,
        RESPONSE_TIMEOUT=None,  # Quart's 60 s default would cut long responses
        BODY_TIMEOUT=60,
        JSON_SORT_KEYS=False,
    )

    @app.before_request
    async def _route_label() -> None:
        ctx = context_of(request.scope)
        if ctx is not None and request.url_rule is not None:
            ctx.route = request.url_rule.rule

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _error(500, "internal error")

    health.register(app, services)
    identity_routes.register(app, services.identity)
    metering_routes.register(app, services)
    register_ui(app, services)
    return app


def _error(status: int, message: str) -> Response:
    if error_format_for(request.path) == "html" and request.method != "HEAD":
        return html_error(status, message)
    ctx = context_of(request.scope)
    body, headers = error_response(request.path, status, message, ctx.request_id if ctx else None)
    response = Response(body, status=status)
    for name, value in headers:
        response.headers[name.decode()] = value.decode()
    if error_format_for(request.path) != "html":
        response.headers["Cache-Control"] = "no-store"
    return response
