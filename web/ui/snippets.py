"""Copy-ready setup snippets for the tools people point at the proxy.

Each snippet is filled with the proxy's public origin and a key (the placeholder
`KEY_PLACEHOLDER` unless the page has just created one). tests/web/test_ui_snippets.py runs
the SDK, boto3 and curl snippets, as rendered, against a live proxy.
"""

from __future__ import annotations

import json
import shlex

import attrs

KEY_PLACEHOLDER = "SSOK_paste_your_key_here"
PROMPT = "Hello, Claude"


@attrs.frozen
class Snippet:
    """One tool's setup: an id for the page, a title, the language and the text."""

    id: str
    title: str
    language: str
    text: str
    note: str = ""


def setup_snippets(
    origin: str, *, key: str, model: str, bedrock_model_id: str, region: str
) -> list[Snippet]:
    """Snippets for Claude Code (gateway and Bedrock mode), the anthropic SDK, boto3, curl."""
    anthropic_url = f"{origin}/anthropic"
    bedrock_url = f"{origin}/bedrock"
    q = shlex.quote
    gateway = "\n".join(
        [
            f"export ANTHROPIC_BASE_URL={q(anthropic_url)}",
            f"export ANTHROPIC_AUTH_TOKEN={q(key)}",
            "claude",
        ]
    )
    bedrock_mode = "\n".join(
        [
            "export CLAUDE_CODE_USE_BEDROCK=1",
            f"export ANTHROPIC_BEDROCK_BASE_URL={q(bedrock_url)}",
            "export CLAUDE_CODE_SKIP_BEDROCK_AUTH=1",
            f"export ANTHROPIC_CUSTOM_HEADERS={q('X-API-Key: ' + key)}",
            f"export AWS_REGION={q(region)}",
            "claude",
        ]
    )
    python_sdk = f"""\
from anthropic import Anthropic

client = Anthropic(base_url={json.dumps(anthropic_url)}, api_key={json.dumps(key)})
message = client.messages.create(
    model={json.dumps(model)},
    max_tokens=256,
    messages=[{{"role": "user", "content": {json.dumps(PROMPT)}}}],
)
print(message.content[0].text)
"""
    boto3_snippet = f"""\
import boto3

API_KEY = {json.dumps(key)}
client = boto3.client(
    "bedrock-runtime",
    region_name={json.dumps(region)},
    endpoint_url={json.dumps(bedrock_url)},
    aws_access_key_id="unused",  # the proxy signs with its own AWS credentials
    aws_secret_access_key="unused",
)


def add_api_key(request, **kwargs):
    request.headers["X-API-Key"] = API_KEY


client.meta.events.register("before-sign.bedrock-runtime.*", add_api_key)
response = client.converse(
    modelId={json.dumps(bedrock_model_id)},
    messages=[{{"role": "user", "content": [{{"text": {json.dumps(PROMPT)}}}]}}],
    inferenceConfig={{"maxTokens": 256}},
)
print(response["output"]["message"]["content"][0]["text"])
"""
    body = json.dumps(
        {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": PROMPT}]}
    )
    curl = " \\\n  ".join(
        [
            f"curl {q(anthropic_url + '/v1/messages')}",
            f"-H {q('x-api-key: ' + key)}",
            "-H 'content-type: application/json'",
            "-H 'anthropic-version: 2023-06-01'",
            f"-d {q(body)}",
        ]
    )
    return [
        Snippet(
            "claude-code",
            "Claude Code (gateway mode)",
            "shell",
            gateway,
            "Claude Code speaks the Anthropic API to the proxy.",
        ),
        Snippet(
            "claude-code-bedrock",
            "Claude Code (Bedrock mode)",
            "shell",
            bedrock_mode,
            "Claude Code speaks the Bedrock API; the proxy signs for AWS.",
        ),
        Snippet("python-sdk", "Anthropic Python SDK", "python", python_sdk),
        Snippet("boto3", "boto3 (bedrock-runtime)", "python", boto3_snippet),
        Snippet("curl", "curl", "shell", curl),
    ]
