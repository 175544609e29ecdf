"""The OpenAPI document: it lists exactly the routes that exist, it is valid, it is served as
JSON and YAML, and a live server honours it (schemathesis, marked slow)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml
from openapi_spec_validator import validate

from tests.harness import RunningProxy, start_proxy
from tests.web.conftest import IdentityApp
from web.config import AdminConfig
from web.dataplane import build_routes
from web.dataplane.bedrock import ACTIONS
from web.openapi import build_spec
from web.ui import PAGE_MARK

METHODS = {"get", "put", "post", "delete", "patch"}


def openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: `<path:model_id>` → `{model_id}`."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def served_routes(app: IdentityApp) -> set[tuple[str, str]]:
    """(path, method) of every JSON route: the Quart app's, minus HTML pages, plus the data
    plane's (catch-alls excluded, Bedrock's `{action}` expanded)."""
    found: set[tuple[str, str]] = set()
    for rule in app.app.url_map.iter_rules():
        if getattr(app.app.view_functions[rule.endpoint], PAGE_MARK, False):
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((openapi_path(rule.rule), method.lower()))
    for template, methods in build_routes(app.services).templates():
        if template.endswith("/*"):
            continue  # answers unknown paths in the right error format
        paths = [template]
        if "{action}" in template:
            paths = [template.replace("{action}", action) for action in ACTIONS]
        found |= {(p, m.lower()) for p in paths for m in methods}
    return found


def documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_the_spec_lists_exactly_the_routes_that_exist(
    sqlite_identity_app: IdentityApp,
) -> None:
    spec = build_spec("test")
    served, listed = served_routes(sqlite_identity_app), documented(spec)
    assert len(served) > 40
    missing = sorted(served - listed)
    assert not missing, f"routes the OpenAPI document lacks (add them to web/openapi/): {missing}"
    stale = sorted(listed - served)
    assert not stale, f"the OpenAPI document lists routes that do not exist: {stale}"


async def test_the_spec_is_valid_and_complete() -> None:
    spec = build_spec("1.2.3")
    validate(spec)  # OpenAPI 3.1 (openapi-spec-validator)
    assert spec["openapi"] == "3.1.0"
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"] == {**schemes["apiKey"], "in": "header", "name": "x-api-key"}
    for name in ("ApiError", "AnthropicError", "BedrockError"):
        assert name in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op["responses"], (path, method)
            assert "200" in op["responses"] or any(
                s.startswith(("2", "3")) for s in op["responses"]
            )
            ok = op["responses"].get("200") or op["responses"].get("201")
            if path.startswith("/api/") and ok:
                assert ok["content"], (path, method)
            if path.startswith(("/api/", "/anthropic/", "/bedrock/")):
                assert op["security"], f"{method} {path} must say how to authenticate"
            if path.startswith("/anthropic/"):
                assert op["responses"]["default"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/AnthropicError"
                }
            if path.startswith("/bedrock/"):
                assert "x-amzn-errortype" in op["responses"]["default"]["headers"]
            if path.startswith("/api/admin/") and "403" in op["responses"]:
                assert op["responses"]["403"] == {"$ref": "#/components/responses/Api403"}


async def test_the_spec_is_served_as_json_and_yaml(sqlite_identity_app: IdentityApp) -> None:
    client = sqlite_identity_app.client
    bodies = []
    for path in ("/openapi.json", "/docs/openapi.json", "/openapi.yaml", "/docs/openapi.yaml"):
        r = await client.get(path)
        assert r.status_code == 200, path
        text = await r.get_data(as_text=True)
        bodies.append(json.loads(text) if path.endswith(".json") else yaml.safe_load(text))
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    assert bodies[0]["servers"] == [{"url": "http://localhost", "description": "this proxy"}]
    validate(bodies[0])


# --- schemathesis against a live proxy --------------------------------------------------

# bounded to keep the run short; FUZZ_EXAMPLES=200 in the environment digs deeper
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
DATA_PLANE_EXAMPLES = max(2, FUZZ_EXAMPLES // 3)


def _fuzzer(
    operation: Any, base_url: str, headers: dict[str, str], examples: int, checks: list[Any]
) -> Any:
    """A hypothesis test calling `operation` with `headers` and validating each answer."""
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        for generated in ("x-api-key", "authorization"):  # values made up for the auth schemes
            for name in [n for n in case.headers or {} if n.lower() == generated]:
                del case.headers[name]
        if case.cookies:
            case.cookies.pop("bsp_access", None)
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks)

    return run


def fuzz(proxy: RunningProxy, auth: dict[str, dict[str, str]]) -> list[str]:
    """Run schemathesis over every operation (in this worker thread); returns failures."""
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{proxy.url}/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        if path.startswith("/api/admin/"):
            headers, examples = auth["admin"], FUZZ_EXAMPLES
        elif path.startswith(("/anthropic/", "/bedrock/")):
            headers, examples = auth["key"], DATA_PLANE_EXAMPLES
        else:
            headers, examples = auth["user"], FUZZ_EXAMPLES

        run = _fuzzer(operation, proxy.url, headers, examples, checks)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error_and_no_spec_violation(tmp_path: Path) -> None:
    admin_email = "fuzz-admin@example.com"
    with start_proxy(tmp_path, admin=AdminConfig(emails=[admin_email])) as proxy:
        user_id, key = await proxy.user_with_key()
        admin_id, _ = await proxy.create_user(admin_email)
        auth = proxy.services.auth
        user_token, _ = auth.mint_token(user_id, ttl=3600)
        admin_token, _ = auth.mint_token(admin_id, ttl=3600)
        headers = {
            "user": {"Authorization": f"Bearer {user_token}"},
            "admin": {"Authorization": f"Bearer {admin_token}"},
            "key": {"x-api-key": key},
        }
        with trio.fail_after(170):
            failures = await trio.to_thread.run_sync(fuzz, proxy, headers, abandon_on_cancel=True)
    assert not failures, "\n\n".join(failures)
