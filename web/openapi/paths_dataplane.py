"""Paths of the data plane: the Anthropic Messages API (/anthropic) and Bedrock Runtime
(/bedrock), with their own error shapes. Request bodies are passed through to Bedrock, so
only the fields the proxy itself checks are described; everything else is allowed."""

from __future__ import annotations

from typing import Any

from web.openapi.common import (
    DATA_PLANE_SECURITY,
    INTEGER,
    STRING,
    Schema,
    array,
    json_content,
    nullable,
    obj,
    operation,
    path_param,
    query,
    ref,
)

ANTHROPIC_SCHEMAS: dict[str, Schema] = {
    "MessagesRequest": obj(
        {
            "model": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            "max_tokens": {"type": "integer", "minimum": 1},
            "stream": {"type": "boolean"},
            "system": {"anyOf": [{"type": "string"}, {"type": "array"}]},
        },
        ["model", "messages", "max_tokens"],
        description="Anthropic's Messages request; every other field goes to Bedrock as is",
    ),
    "CountTokensRequest": obj(
        {
            "model": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        },
        ["model", "messages"],
    ),
    "Message": obj(
        {
            "id": STRING,
            "type": STRING,
            "role": STRING,
            "content": array({"type": "object"}),
            "model": STRING,
            "stop_reason": nullable(STRING),
            "usage": {"type": "object"},
        },
        ["content"],
        description="The message Bedrock returned, with the model name the client asked for",
    ),
    "TokenCount": obj({"input_tokens": INTEGER}),
    "ModelInfo": obj(
        {
            "type": {"type": "string", "enum": ["model"]},
            "id": STRING,
            "display_name": STRING,
            "created_at": {"type": "string", "format": "date-time"},
        }
    ),
    "ModelList": obj(
        {
            "data": array(ref("ModelInfo")),
            "has_more": {"type": "boolean"},
            "first_id": nullable(STRING),
            "last_id": nullable(STRING),
        }
    ),
}

ANTHROPIC_ERROR = {
    "description": "Anthropic's error shape (also every other status the upstream maps to)",
    "content": json_content(ref("AnthropicError")),
}
BEDROCK_ERROR = {
    "description": "Bedrock's error shape; the type is in the x-amzn-errortype header",
    "headers": {"x-amzn-errortype": {"schema": STRING}},
    "content": json_content(ref("BedrockError")),
}
SSE = {"text/event-stream": {"schema": {"type": "string"}}}
EVENTSTREAM = {"application/vnd.amazon.eventstream": {"schema": {"type": "string"}}}
EXAMPLE_MODEL = "claude-sonnet-4-5"
EXAMPLE_BEDROCK_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HELLO = [{"role": "user", "content": "Hello, Claude"}]
BETA = query("beta", {"type": "string"}, "Claude Code sends beta=true; ignored")
HEADERS = [
    {
        "name": "anthropic-version",
        "in": "header",
        "required": False,
        "schema": STRING,
        "description": "Any version is accepted",
    },
    {
        "name": "anthropic-beta",
        "in": "header",
        "required": False,
        "schema": STRING,
        "description": "Comma-separated beta flags, filtered per model for Bedrock",
    },
]


def _anthropic_errors(*statuses: int) -> dict[str, Any]:
    return {**{str(s): ANTHROPIC_ERROR for s in statuses}, "default": ANTHROPIC_ERROR}


def _example_body(schema: Schema, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


def _bedrock(
    action: str, summary: str, streaming: bool, request: Schema, example: dict[str, Any]
) -> dict[str, Any]:
    success = {"content": EVENTSTREAM if streaming else json_content({"type": "object"})}
    return {
        "post": operation(
            summary,
            "bedrock",
            {
                "200": {"description": "Bedrock's answer, byte for byte", **success},
                **{str(s): BEDROCK_ERROR for s in (400, 401, 403, 404, 413, 429, 500, 502)},
                "default": BEDROCK_ERROR,
            },
            parameters=[
                {
                    **path_param(
                        "model_id",
                        {"type": "string", "minLength": 1},
                        "Base model id, inference profile id or ARN (percent-encode ':' and '/')",
                    ),
                    "example": EXAMPLE_BEDROCK_ID,
                }
            ],
            request_body=_example_body(request, example),
            security=DATA_PLANE_SECURITY,
            operation_id=f"bedrock_{action.replace('-', '_')}",
        )
    }


def dataplane_paths() -> dict[str, Any]:
    """The /anthropic and /bedrock operations."""
    invoke_body: Schema = {"type": "object", "description": "The model's native request body"}
    converse: Schema = {
        "type": "object",
        "properties": {"messages": {"type": "array"}, "inferenceConfig": {"type": "object"}},
    }
    count: Schema = {"type": "object", "properties": {"input": {"type": "object"}}}
    invoke = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": HELLO}
    converse_example = {
        "messages": [{"role": "user", "content": [{"text": "Hello, Claude"}]}],
        "inferenceConfig": {"maxTokens": 64},
    }
    return {
        "/anthropic/v1/messages": {
            "post": operation(
                "Create a message (Anthropic Messages API on Bedrock)",
                "anthropic",
                {
                    "200": {
                        "description": "The message (JSON), or its SSE events with stream=true",
                        "content": {**json_content(ref("Message")), **SSE},
                    },
                    **_anthropic_errors(400, 401, 403, 404, 413, 429, 500, 502, 504, 529),
                },
                parameters=[BETA, *HEADERS],
                request_body=_example_body(
                    ref("MessagesRequest"),
                    {"model": EXAMPLE_MODEL, "max_tokens": 64, "messages": HELLO},
                ),
                security=DATA_PLANE_SECURITY,
                operation_id="createMessage",
            )
        },
        "/anthropic/v1/messages/count_tokens": {
            "post": operation(
                "Count the tokens of a Messages request (Bedrock CountTokens)",
                "anthropic",
                {
                    "200": {"description": "The count", "content": json_content(ref("TokenCount"))},
                    **_anthropic_errors(400, 401, 403, 404, 413, 429, 500, 502, 504, 529),
                },
                parameters=[BETA, *HEADERS],
                request_body=_example_body(
                    ref("CountTokensRequest"), {"model": EXAMPLE_MODEL, "messages": HELLO}
                ),
                security=DATA_PLANE_SECURITY,
                operation_id="countTokens",
            )
        },
        "/anthropic/v1/models": {
            "get": operation(
                "List the models this proxy serves",
                "anthropic",
                {
                    "200": {"description": "Models", "content": json_content(ref("ModelList"))},
                    **_anthropic_errors(400, 401, 403),
                },
                parameters=[
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page"),
                    query("after_id", STRING, "Models after this id"),
                    query("before_id", STRING, "Models before this id"),
                    *HEADERS,
                ],
                security=DATA_PLANE_SECURITY,
                operation_id="listModels",
            )
        },
        "/anthropic/v1/models/{id}": {
            "get": operation(
                "One model by name, alias or Bedrock id",
                "anthropic",
                {
                    "200": {"description": "The model", "content": json_content(ref("ModelInfo"))},
                    **_anthropic_errors(401, 403, 404),
                },
                parameters=[path_param("id", STRING, "A name, alias or Bedrock id"), *HEADERS],
                security=DATA_PLANE_SECURITY,
                operation_id="getModel",
            )
        },
        "/bedrock/model/{model_id}/invoke": _bedrock(
            "invoke", "InvokeModel", False, invoke_body, invoke
        ),
        "/bedrock/model/{model_id}/invoke-with-response-stream": _bedrock(
            "invoke-with-response-stream",
            "InvokeModelWithResponseStream",
            True,
            invoke_body,
            invoke,
        ),
        "/bedrock/model/{model_id}/converse": _bedrock(
            "converse", "Converse", False, converse, converse_example
        ),
        "/bedrock/model/{model_id}/converse-stream": _bedrock(
            "converse-stream", "ConverseStream", True, converse, converse_example
        ),
        "/bedrock/model/{model_id}/count-tokens": _bedrock(
            "count-tokens", "CountTokens", False, count, {"input": {"converse": converse_example}}
        ),
    }
