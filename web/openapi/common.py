"""Small builders for the OpenAPI document: references, nullable types, parameters, bodies."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
MONEY: Schema = {
    "type": "string",
    "pattern": r"^-?\d+(\.\d+)?$",
    "description": "USD as an exact decimal string",
}
ID: Schema = {"type": "integer", "minimum": 1}

JSON_API_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"session": []}]
DATA_PLANE_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (OpenAPI 3.1 / JSON Schema style)."""
    if set(schema) <= {"type", "format", "description", "pattern", "minimum", "enum"} and (
        isinstance(schema.get("type"), str)
    ):
        out = {**schema, "type": [schema["type"], "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    """An object schema; every property is required unless `required` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        **extra,
    }


def array(items: Schema) -> Schema:
    """An array of `items`."""
    return {"type": "array", "items": items}


def query(name: str, schema: Schema, description: str, *, required: bool = False) -> Schema:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def path_param(name: str, schema: Schema, description: str) -> Schema:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def json_content(schema: Schema) -> dict[str, Any]:
    """`content` with one JSON media type."""
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: Schema, status: str = "200") -> dict[str, Any]:
    """A JSON success response."""
    return {status: {"description": description, "content": json_content(schema)}}


def body(schema: Schema, description: str = "", *, required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "description": description, "content": json_content(schema)}


def api_errors(*statuses: int) -> dict[str, Any]:
    """References to the shared JSON API error responses."""
    return {str(s): {"$ref": f"#/components/responses/Api{s}"} for s in statuses}


def operation(
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    description: str = "",
    parameters: list[Schema] | None = None,
    request_body: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    operation_id: str,
) -> dict[str, Any]:
    """One operation object."""
    out: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if description:
        out["description"] = description
    if parameters:
        out["parameters"] = parameters
    if request_body is not None:
        out["requestBody"] = request_body
    out["security"] = JSON_API_SECURITY if security is None else security
    return out
