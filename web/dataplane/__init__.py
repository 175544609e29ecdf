"""The data plane: lean ASGI handlers for the proxied APIs (they bypass Quart)."""

from __future__ import annotations

from web.dataplane.anthropic import AnthropicRoutes
from web.dataplane.bedrock import BedrockRoutes
from web.front import FastRoutes
from web.services import Services


def build_routes(services: Services) -> FastRoutes:
    """Every data-plane route, in match order."""
    routes = FastRoutes()
    BedrockRoutes(services).register(routes)
    AnthropicRoutes(services).register(routes)
    return routes
