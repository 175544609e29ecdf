"""A real OpenID Connect provider for tests: oidc-provider-mock (authlib's server side, Flask)
served by werkzeug on 127.0.0.1 in a background thread.

    with run_oidc_provider() as idp:
        idp.set_user("alice", {"email": "alice@example.com", "email_verified": True})
        location = await idp.authorize(authorization_url, "alice")  # the provider's 302 target

Any client id and secret are accepted and every redirect URI is allowed at the authorization
endpoint; the token endpoint still checks that the code was issued to that client for that
redirect URI (authlib), which is what the wrong-redirect-URI test relies on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import oidc_provider_mock
import werkzeug.serving


class OidcProvider:
    """Handle on a running provider; `url` is also its issuer."""

    def __init__(self, server: werkzeug.serving.BaseWSGIServer) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_port}"

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """Create or replace the user `sub` with these claims (any JSON values)."""
        response = httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        response.raise_for_status()

    async def authorize(self, authorization_url: str, sub: str) -> str:
        """Sign `sub` in at the provider (as its consent form would); returns the redirect."""
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(authorization_url, data={"sub": sub})
        if response.status_code != 302:
            raise AssertionError(f"provider answered {response.status_code}: {response.text[:300]}")
        return response.headers["location"]


@contextlib.contextmanager
def run_oidc_provider() -> Iterator[OidcProvider]:
    """Serve the provider until the block ends."""
    app = oidc_provider_mock.app(require_nonce=False, issue_refresh_token=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield OidcProvider(server)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
