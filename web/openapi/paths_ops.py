"""Paths of health checks and of this document itself."""

from __future__ import annotations

from typing import Any

from web.openapi.common import api_errors, json_content, operation, query, ref

PUBLIC: list[dict[str, list[str]]] = []


def ops_paths() -> dict[str, Any]:
    """/health, /health/ready, /openapi.{json,yaml} (also under /docs)."""
    health = json_content(ref("Health"))
    paths: dict[str, Any] = {
        "/health": {
            "get": operation(
                "Liveness and component health",
                "ops",
                {
                    "200": {"description": "Healthy or degraded", "content": health},
                    "503": {"description": "Unhealthy", "content": health},
                    **api_errors(400),
                },
                parameters=[
                    query(
                        "check",
                        {
                            "type": "string",
                            "enum": ["database", "cache", "usage", "streams", "bedrock", "all"],
                        },
                        "One check, or all (also bedrock); failing explicit checks are unhealthy",
                    )
                ],
                security=PUBLIC,
                operation_id="health",
            )
        },
        "/health/ready": {
            "get": operation(
                "Readiness: 503 as soon as a drain begins",
                "ops",
                {
                    "200": {"description": "Ready", "content": json_content(ref("Readiness"))},
                    "503": {"description": "Draining", "content": json_content(ref("Readiness"))},
                },
                security=PUBLIC,
                operation_id="ready",
            )
        },
    }
    for prefix, alias in (("", ""), ("/docs", "Docs")):
        paths[f"{prefix}/openapi.json"] = {
            "get": operation(
                "This OpenAPI document (JSON)",
                "ops",
                {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": json_content({"type": "object"}),
                    }
                },
                security=PUBLIC,
                operation_id=f"openapi{alias}Json",
            )
        }
        paths[f"{prefix}/openapi.yaml"] = {
            "get": operation(
                "This OpenAPI document (YAML)",
                "ops",
                {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/yaml": {"schema": {"type": "object"}}},
                    }
                },
                security=PUBLIC,
                operation_id=f"openapi{alias}Yaml",
            )
        }
    return paths
