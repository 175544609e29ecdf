"""Component schemas, shared error responses and security schemes of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from storage.schema import USER_STATES
from web.auth.audit import EVENT_TYPES
from web.openapi.common import (
    BOOLEAN,
    DATETIME,
    ID,
    INTEGER,
    MONEY,
    STRING,
    Schema,
    array,
    json_content,
    nullable,
    obj,
    ref,
)

TOTALS: dict[str, Schema] = {
    "requests": INTEGER,
    "successes": INTEGER,
    "failures": INTEGER,
    "input_tokens": INTEGER,
    "output_tokens": INTEGER,
    "cache_read_tokens": INTEGER,
    "cache_write_tokens": INTEGER,
    "total_tokens": INTEGER,
    "cost_usd": MONEY,
    "unpriced_requests": INTEGER,
    "avg_latency_ms": nullable({"type": "number"}),
    "p95_latency_ms": nullable(INTEGER),
}
PRICE = nullable({**MONEY, "description": "USD per million tokens"})
PRICE_IN = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}],
    "description": "USD per million tokens: a decimal string or number (null or absent: none)",
}

SCHEMAS: dict[str, Schema] = {
    "ApiError": obj(
        {
            "error": obj({"code": STRING, "message": STRING}),
            "request_id": nullable(STRING),
        },
        ["error"],
        description="The error shape of /api, /auth, /health and /openapi",
    ),
    "AnthropicError": obj(
        {
            "type": {"type": "string", "enum": ["error"]},
            "error": obj({"type": STRING, "message": STRING}),
            "request_id": nullable(STRING),
        },
        ["type", "error"],
        description="Anthropic's error shape (every error under /anthropic)",
    ),
    "BedrockError": obj(
        {"message": STRING},
        description="Bedrock's error shape (with the x-amzn-errortype header)",
    ),
    "User": obj(
        {
            "id": ID,
            "email": STRING,
            "email_verified": BOOLEAN,
            "display_name": nullable(STRING),
            "provider": STRING,
            "state": {"type": "string", "enum": list(USER_STATES)},
            "is_admin": BOOLEAN,
            "created_at": DATETIME,
            "updated_at": DATETIME,
            "last_login_at": nullable(DATETIME),
        }
    ),
    "Me": {
        "allOf": [
            ref("User"),
            obj({"auth_method": {"type": "string", "enum": ["api_key", "jwt", "session"]}}),
        ]
    },
    "UserPage": obj(
        {"users": array(ref("User")), "total": INTEGER, "limit": INTEGER, "offset": INTEGER}
    ),
    "UserStateChange": obj(
        {"state": {"type": "string", "enum": list(USER_STATES)}}, additionalProperties=True
    ),
    "ApiKey": obj(
        {
            "id": ID,
            "name": STRING,
            "hint": STRING,
            "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
            "created_at": DATETIME,
            "last_used_at": nullable(DATETIME),
            "expires_at": nullable(DATETIME),
            "revoked_at": nullable(DATETIME),
        }
    ),
    "ApiKeyList": obj({"keys": array(ref("ApiKey"))}),
    "ApiKeyCreate": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "expires_in_days": nullable({"type": "integer", "minimum": 1, "maximum": 3650}),
        },
        ["name"],
        additionalProperties=False,
        description="Without expires_in_days the key gets api_keys.default_expiry_days;"
        " null means never (only when max_expiry_days is unset)",
    ),
    "ApiKeyCreated": obj(
        {
            "id": ID,
            "key": {"type": "string", "description": "shown this once, never again"},
            "name": STRING,
            "hint": STRING,
            "created_at": DATETIME,
            "expires_at": nullable(DATETIME),
        }
    ),
    "AuditEntry": obj(
        {
            "id": ID,
            "user_id": nullable(INTEGER),
            "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
            "success": BOOLEAN,
            "ip_address": nullable(STRING),
            "user_agent": nullable(STRING),
            "metadata": {"type": "object"},
            "created_at": DATETIME,
        }
    ),
    "AuditPage": obj({"entries": array(ref("AuditEntry")), "next_cursor": nullable(INTEGER)}),
    "Provider": obj(
        {"name": STRING, "type": STRING, "display_name": STRING, "authorize_url": STRING}
    ),
    "ProviderList": obj({"providers": array(ref("Provider"))}),
    "AuthorizeStarted": obj(
        {
            "provider": STRING,
            "authorization_url": STRING,
            "state": STRING,
            "state_binding": {"type": "string", "description": "send it back to /auth/token"},
            "redirect_uri": STRING,
            "expires_in": INTEGER,
        }
    ),
    "TokenRequest": obj(
        {
            "provider": STRING,
            "code": STRING,
            "state": STRING,
            "state_binding": STRING,
            "redirect_uri": STRING,
        },
        ["provider", "code", "state", "state_binding"],
    ),
    "Tokens": obj(
        {
            "access_token": STRING,
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": INTEGER,
            "refresh_token": STRING,
            "refresh_expires_in": INTEGER,
        }
    ),
    "CookieRefreshed": obj(
        {"token_type": {"type": "string", "enum": ["cookie"]}, "expires_in": INTEGER}
    ),
    "RefreshRequest": obj({"refresh_token": STRING}),
    "LogoutRequest": obj({"refresh_token": STRING}, []),
    "LoggedOut": obj({"logged_out": BOOLEAN, "sessions_revoked": INTEGER}),
    "UsageRecord": obj(
        {
            "id": ID,
            "request_id": STRING,
            "requested_at": DATETIME,
            "user_id": INTEGER,
            "api_key_id": nullable(INTEGER),
            "model_id": STRING,
            "model_name": nullable(STRING),
            "region": STRING,
            "route": STRING,
            "success": BOOLEAN,
            "status_code": INTEGER,
            "input_tokens": INTEGER,
            "output_tokens": INTEGER,
            "cache_read_tokens": INTEGER,
            "cache_write_5m_tokens": INTEGER,
            "cache_write_1h_tokens": INTEGER,
            "cost_usd": nullable(MONEY),
            "price_input": PRICE,
            "price_output": PRICE,
            "price_cache_write_5m": PRICE,
            "price_cache_write_1h": PRICE,
            "price_cache_read": PRICE,
            "response_time_ms": INTEGER,
            "first_byte_ms": nullable(INTEGER),
            "stop_reason": nullable(STRING),
            "error_type": nullable(STRING),
            "error_message": nullable(STRING),
            "streaming": BOOLEAN,
            "partial": BOOLEAN,
        }
    ),
    "UsageRecords": obj(
        {
            "records": array(ref("UsageRecord")),
            "next_cursor": nullable(STRING),
            "limit": INTEGER,
        }
    ),
    "Totals": obj(TOTALS),
    "UsageGroup": obj(
        {
            "period_start": DATETIME,
            "period_end": DATETIME,
            "date": {"type": "string", "format": "date"},
            "model_id": STRING,
            "user_id": INTEGER,
            "email": nullable(STRING),
            **TOTALS,
        },
        list(TOTALS),
        description="Totals of one group; the grouping keys present depend on the grouping",
    ),
    "UsageSummaries": obj(
        {
            "period": {"type": "string", "enum": ["hourly", "daily", "weekly", "monthly"]},
            "start": DATETIME,
            "end": DATETIME,
            "summaries": array(ref("UsageGroup")),
        }
    ),
    "UsageStats": obj(
        {
            "start": DATETIME,
            "end": DATETIME,
            "totals": ref("Totals"),
            "by_model": array(ref("UsageGroup")),
            "by_day": array(ref("UsageGroup")),
            "by_user": array(ref("UsageGroup")),
        },
        ["start", "end", "totals", "by_model", "by_day"],
        description="by_user only on the admin route",
    ),
    "Cost": obj(
        {
            "region": STRING,
            "model_id": STRING,
            "model_name": nullable(STRING),
            "provider": nullable(STRING),
            "input_price": PRICE,
            "output_price": PRICE,
            "cache_write_5m_price": PRICE,
            "cache_write_1h_price": PRICE,
            "cache_read_price": PRICE,
            "updated_at": nullable(DATETIME),
        }
    ),
    "CostPage": obj(
        {"costs": array(ref("Cost")), "total": INTEGER, "limit": INTEGER, "offset": INTEGER}
    ),
    "CostEdit": obj(
        {
            "model_name": nullable(STRING),
            "provider": nullable(STRING),
            "input_price": PRICE_IN,
            "output_price": PRICE_IN,
            "cache_write_5m_price": PRICE_IN,
            "cache_write_1h_price": PRICE_IN,
            "cache_read_price": PRICE_IN,
        },
        ["input_price", "output_price"],
        additionalProperties=False,
    ),
    "CostUploadReport": obj(
        {
            "applied": BOOLEAN,
            "added": INTEGER,
            "updated": INTEGER,
            "unchanged": INTEGER,
            "rejected": array(obj({"line": INTEGER, "reason": STRING})),
            "changes": obj(
                {
                    "added": array(obj({"region": STRING, "model_id": STRING})),
                    "updated": array(obj({"region": STRING, "model_id": STRING})),
                }
            ),
        }
    ),
    "Job": obj(
        {
            "name": STRING,
            "schedule": STRING,
            "description": STRING,
            "enabled": BOOLEAN,
            "next_fire": nullable(DATETIME),
            "running_here": BOOLEAN,
            "last_run": nullable(
                obj(
                    {
                        "fire_time": DATETIME,
                        "started_at": DATETIME,
                        "finished_at": nullable(DATETIME),
                        "result": {"type": "string", "enum": ["success", "failure", "running"]},
                        "message": nullable(STRING),
                    }
                )
            ),
        }
    ),
    "JobList": obj({"jobs": array(ref("Job"))}),
    "Health": obj(
        {
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "version": STRING,
            "draining": BOOLEAN,
            "checks": {
                "type": "object",
                "additionalProperties": obj(
                    {"status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]}}
                ),
            },
        }
    ),
    "Readiness": obj(
        {"status": {"type": "string", "enum": ["ready", "draining"]}, "ready": BOOLEAN}
    ),
}

_API_ERROR_TEXT = {
    400: "Bad input; the message says what to fix",
    401: "No or invalid credentials",
    403: "Not allowed (not an admin, a disabled user, or a missing CSRF token)",
    404: "Not found (also someone else's resource)",
    409: "Conflict (e.g. the live key limit is reached)",
    413: "Request body too large",
    503: "A dependency (the database) cannot answer; retry shortly",
}

RESPONSES: dict[str, Any] = {
    f"Api{status}": {"description": text, "content": json_content(ref("ApiError"))}
    for status, text in _API_ERROR_TEXT.items()
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token (JWT from sign-in, /auth/token or `bedrock-proxy"
        " token`) or an API key (`SSOK_…`).",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "An API key (`SSOK_…`). Wins over Authorization when both are sent.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "bsp_access",
        "description": "The web UI's session cookie (JSON API only, never the data plane)."
        " POST/PUT/PATCH/DELETE also need `X-CSRF-Token` equal to the `bsp_csrf` cookie.",
    },
}
