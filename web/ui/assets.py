"""Static files, the API docs page (Swagger UI from the `swagger-ui-bundle` package, served by
this process: no CDN) and the OpenAPI document as JSON and YAML."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

import trio
import yaml
from quart import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from web.auth.errors import InvalidInput
from web.auth.quart import origin
from web.openapi import build_spec
from web.services import Services
from web.ui.core import DOCS_CSP, error_page, public, render, secure

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER_FILES = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    }
)
ASSET_CACHE = "public, max-age=3600"


def _spec_for_request(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        url = origin().url
    except InvalidInput:
        url = ""
    return {**spec, "servers": [{"url": url or "/", "description": "this proxy"}]}


def register(bp: Blueprint, services: Services) -> None:
    """Add static files, /docs and the OpenAPI routes to `bp`."""
    spec = build_spec(services.version)

    @bp.get("/static/<path:filename>")
    @public
    async def static(filename: str) -> Response:
        response = await send_from_directory(STATIC_DIR, filename)
        return secure(response, cache=ASSET_CACHE)

    loaded: dict[str, bytes] = {}  # read once: a few MB, served often

    @bp.get("/docs/assets/<name>")
    @public
    async def swagger_asset(name: str) -> Response:
        if name not in SWAGGER_FILES:
            return error_page(404, f"no asset named {name[:80]!r}")
        if name not in loaded:
            loaded[name] = await trio.Path(str(swagger_ui_path), name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = Response(loaded[name], content_type=kind)
        return secure(response, cache=ASSET_CACHE)

    @bp.get("/docs")
    @public
    async def docs() -> Response:
        response = render("docs.html")
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response

    async def spec_json() -> Response:
        body = json.dumps(_spec_for_request(spec), indent=1)
        response = Response(body, content_type="application/json")
        return secure(response, cache="no-cache")

    async def spec_yaml() -> Response:
        body = yaml.safe_dump(_spec_for_request(spec), sort_keys=False, allow_unicode=True)
        response = Response(body, content_type="application/yaml; charset=utf-8")
        return secure(response, cache="no-cache")

    # JSON routes (public, and described in the spec itself), not pages
    for prefix, name in (("", "openapi"), ("/docs", "docs_openapi")):
        bp.add_url_rule(f"{prefix}/openapi.json", f"{name}_json", spec_json, methods=["GET"])
        bp.add_url_rule(f"{prefix}/openapi.yaml", f"{name}_yaml", spec_yaml, methods=["GET"])
