"""Run by tests/web/test_anthropic_sdk.py with the pinned anthropic 0.x interpreter
(.venv-anthropic0): exercises the proxy as an old client does (x-api-key) and prints a JSON
report. Usage: python anthropic0_client.py BASE_URL API_KEY"""

import json
import sys

import anthropic
import httpx

ALIAS = "claude-sonnet-4-5"
TOOL = {
    "name": "get_weather",
    "description": "Current weather for a place.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def main(base_url, key):
    seen = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(dict(r.headers))]})
    client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0, http_client=http)
    user = [{"role": "user", "content": "Hello there"}]
    report = {"version": anthropic.__version__}

    message = client.messages.create(model=ALIAS, max_tokens=32, messages=user)
    report["count"] = client.messages.count_tokens(model=ALIAS, messages=user).input_tokens
    report["create"] = {
        "model": message.model,
        "has_text": bool(message.content[0].text),
        "input_tokens": message.usage.input_tokens,
    }
    report["sent_x_api_key"] = all("x-api-key" in h and "authorization" not in h for h in seen)

    with client.messages.stream(model=ALIAS, max_tokens=32, messages=user) as stream:
        events = sum(1 for _ in stream)
        final = stream.get_final_message()
    report["stream_text"] = {"events": events, "model": final.model}

    weather = [{"role": "user", "content": "What is the weather in Paris?"}]
    with client.messages.stream(
        model=ALIAS, max_tokens=256, messages=weather, tools=[TOOL]
    ) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    tool = next(b for b in final.content if b.type == "tool_use")
    report["tool"] = {
        "stop_reason": final.stop_reason,
        "input": tool.input,
        "json_deltas": "input_json_delta" in kinds,
    }

    with client.messages.stream(
        model="claude-opus-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=user,
    ) as stream:
        final = stream.get_final_message()
    report["thinking"] = {
        "blocks": [b.type for b in final.content],
        "signed": bool(final.content[0].signature),
    }

    report["models"] = [m.id for m in client.models.list(limit=5)]

    errors = {}
    bad = anthropic.Anthropic(api_key="SSOK_bogus", base_url=base_url, max_retries=0)
    for name, call in [
        ("bad_key", lambda: bad.messages.create(model=ALIAS, max_tokens=5, messages=user)),
        (
            "unknown_model",
            lambda: client.messages.create(model="claude-9000", max_tokens=5, messages=user),
        ),
        (
            "throttle",
            lambda: client.messages.create(
                model=ALIAS,
                max_tokens=5,
                messages=[{"role": "user", "content": '[[emulator {"fault": "throttle"}]]'}],
            ),
        ),
        (
            "server_error",
            lambda: client.messages.create(
                model=ALIAS,
                max_tokens=5,
                messages=[{"role": "user", "content": '[[emulator {"fault": "server_error"}]]'}],
            ),
        ),
    ]:
        try:
            call()
            errors[name] = None
        except anthropic.APIStatusError as exc:
            errors[name] = type(exc).__name__
    report["errors"] = errors
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
