"""The overview's setup snippets, as rendered, work against a live proxy (SDK, boto3, curl and
both Claude Code modes' environment)."""

from __future__ import annotations

import html
import json
import re
import shlex
import sys
from pathlib import Path

import httpx
import pytest
import trio

from tests.harness import start_proxy
from web.ui.snippets import KEY_PLACEHOLDER, setup_snippets

EMULATOR_REPLY = "Hello from the Bedrock emulator"
ASK = (
    "client.messages.create(model={model!r}, max_tokens=16,"
    " messages=[{{'role': 'user', 'content': 'hi'}}])"
)


def snippets_of(page: str) -> dict[str, str]:
    """Snippet id → its text, from the page's `<pre id="snippet-…"><code>` blocks."""
    found = re.findall(
        r'<pre id="snippet-([a-z0-9-]+)" tabindex="0"><code>(.*?)</code></pre>', page, re.S
    )
    return {name: html.unescape(text) for name, text in found}


async def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    with trio.fail_after(90):
        done = await trio.run_process(
            argv, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    out = done.stdout.decode()
    assert done.returncode == 0, f"{argv[:2]} failed:\n{out}\n{done.stderr.decode()[-3000:]}"
    return out


def exported(script: str) -> dict[str, str]:
    """The variables a shell snippet exports (its `claude` line left out)."""
    values = {}
    for line in script.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0]
    return values


def test_snippets_quote_what_a_shell_would_misread() -> None:
    [gateway, bedrock, *_] = setup_snippets(
        "https://proxy.example.com/llm",
        key="SSOK_a'b",
        model="m",
        bedrock_model_id="b",
        region="eu-west-1",
    )
    assert exported(gateway.text)["ANTHROPIC_AUTH_TOKEN"] == "SSOK_a'b"
    assert exported(bedrock.text)["ANTHROPIC_CUSTOM_HEADERS"] == "X-API-Key: SSOK_a'b"
    assert (
        exported(bedrock.text)["ANTHROPIC_BEDROCK_BASE_URL"]
        == "https://proxy.example.com/llm/bedrock"
    )


@pytest.mark.slow
async def test_rendered_snippets_work_against_the_proxy(tmp_path: Path) -> None:
    with start_proxy(tmp_path) as proxy:
        user_id, key = await proxy.user_with_key()
        token, _ = proxy.services.auth.mint_token(user_id)
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
            page = await client.get("/overview", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200
        snippets = {k: v.replace(KEY_PLACEHOLDER, key) for k, v in snippets_of(page.text).items()}
        assert set(snippets) == {
            "claude-code",
            "claude-code-bedrock",
            "python-sdk",
            "boto3",
            "curl",
        }
        assert proxy.url + "/anthropic" in snippets["python-sdk"]

        python = sys.executable
        assert EMULATOR_REPLY in await run([python, "-c", snippets["python-sdk"]])
        assert EMULATOR_REPLY in await run([python, "-c", snippets["boto3"]])
        answer = json.loads(await run(["bash", "-c", snippets["curl"]]))
        assert answer["type"] == "message"

        # Claude Code's settings, exercised with the SDK clients that read the same values
        gateway = exported(snippets["claude-code"])
        assert gateway["ANTHROPIC_BASE_URL"] == proxy.url + "/anthropic"
        check_gateway = "\n".join(
            [
                "import anthropic",
                "client = anthropic.Anthropic()  # ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN",
                f"print({ASK.format(model='claude-sonnet-4-5')}.content[0].text)",
            ]
        )
        env = {"PATH": "/usr/bin:/bin", **gateway}
        assert EMULATOR_REPLY in await run([python, "-c", check_gateway], env=env)

        bedrock = exported(snippets["claude-code-bedrock"])
        assert bedrock["CLAUDE_CODE_USE_BEDROCK"] == "1"
        assert bedrock["CLAUDE_CODE_SKIP_BEDROCK_AUTH"] == "1"
        name, _, value = bedrock["ANTHROPIC_CUSTOM_HEADERS"].partition(": ")
        check_bedrock = "\n".join(
            [
                "import os, anthropic",
                "client = anthropic.AnthropicBedrock(",
                "    base_url=os.environ['ANTHROPIC_BEDROCK_BASE_URL'],",
                "    aws_region=os.environ['AWS_REGION'],",
                "    aws_access_key='unused',",
                "    aws_secret_key='unused',",
                f"    default_headers={{{name!r}: {value!r}}},",
                ")",
                f"print({ASK.format(model='us.anthropic.claude-sonnet-4-5-20250929-v1:0')}"
                ".content[0].text)",
            ]
        )
        env = {"PATH": "/usr/bin:/bin", **bedrock}
        assert EMULATOR_REPLY in await run([python, "-c", check_bedrock], env=env)

        rows = await proxy.usage_rows(user_id=user_id)
        assert len(rows) == 5
