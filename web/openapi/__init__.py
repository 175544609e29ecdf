"""The OpenAPI 3.1 document of every JSON route: the Quart JSON API and the data plane.

Built from code (no hand-kept YAML) so shared shapes are written once. HTML pages (the web UI,
/docs, static files) are deliberately not part of it. tests/web/test_openapi.py fails when a
route exists that the document lacks or the other way round, validates the document, and
fuzzes the live server with schemathesis.
"""

from __future__ import annotations

from typing import Any

from web.openapi.paths_dataplane import ANTHROPIC_SCHEMAS, dataplane_paths
from web.openapi.paths_identity import identity_paths
from web.openapi.paths_metering import metering_paths
from web.openapi.paths_ops import ops_paths
from web.openapi.schemas import RESPONSES, SCHEMAS, SECURITY_SCHEMES

TAGS = [
    {"name": "anthropic", "description": "Anthropic Messages API, served by Bedrock"},
    {"name": "bedrock", "description": "Bedrock Runtime, byte for byte"},
    {"name": "auth", "description": "Sign-in, tokens and sessions"},
    {"name": "keys", "description": "Your API keys"},
    {"name": "usage", "description": "Your usage and cost"},
    {"name": "admin", "description": "Users, audit log, everyone's usage, prices, jobs (admins)"},
    {"name": "ops", "description": "Health and this document"},
]


def build_spec(version: str) -> dict[str, Any]:
    """The whole document (without `servers`, which depends on how a request reached us)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bedrock-sso-proxy",
            "version": version,
            "description": "Claude on AWS Bedrock behind company sign-in. Authenticate with"
            " an API key (`x-api-key` or `Authorization: Bearer SSOK_…`) or an access token"
            " (`Authorization: Bearer <JWT>`); the web UI uses a session cookie with a CSRF"
            " token. Errors: `/api`, `/auth`, `/health` answer `ApiError`; `/anthropic`"
            " answers `AnthropicError`; `/bedrock` answers `BedrockError`.",
        },
        "tags": TAGS,
        "paths": {**dataplane_paths(), **identity_paths(), **metering_paths(), **ops_paths()},
        "components": {
            "schemas": {**SCHEMAS, **ANTHROPIC_SCHEMAS},
            "responses": RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
