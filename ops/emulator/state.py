"""What one emulator instance remembers: knobs, the request log, catalogue and prompt cache."""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ops.emulator.catalogue import Catalogue, default_models
from ops.emulator.config import EmulatorConfig, Knobs
from ops.emulator.sigv4 import SigV4Verifier
from ops.emulator.tokens import PromptCache


@attrs.frozen
class RecordedRequest:
    """One request as received: raw path, every header, the body bytes, and when."""

    method: str
    raw_path: bytes
    raw_query: bytes
    raw_headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    received_at: float
    status: list[int] = attrs.field(factory=list)
    response: bytearray = attrs.field(factory=bytearray)

    @property
    def path(self) -> str:
        """The path exactly as sent (percent-encoding kept)."""
        return self.raw_path.decode("latin-1")

    @property
    def query(self) -> str:
        """The raw query string."""
        return self.raw_query.decode("latin-1")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header, in order, as received (hypercorn lower-cases names)."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw_headers]

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def to_json(self) -> dict[str, Any]:
        """JSON form: body as text when it is UTF-8, else base64."""
        try:
            body, encoding = self.body.decode(), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode(), "base64"
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [list(pair) for pair in self.headers],
            "body": body,
            "body_encoding": encoding,
            "received_at": self.received_at,
        }


@attrs.frozen
class EmulatorStatistics:
    """Counters for tests and benchmarks."""

    requests_received: int
    requests_logged: int
    models: int


class EmulatorState:
    """Mutable state of one emulator app; reachable as `app.state` and `handle.state`."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.knobs: Knobs = config.knobs()
        self.requests: deque[RecordedRequest] = deque(maxlen=config.request_log_size)
        self.catalogue = Catalogue(config.region, default_models())
        self.prompt_cache = PromptCache()
        self.verifier = (
            SigV4Verifier(config.access_key_id, config.secret_access_key, config.region)
            if config.verify_sigv4
            else None
        )
        self._received = 0

    def __repr__(self) -> str:
        return f"<EmulatorState received={self._received} knobs={self.knobs!r} {self.catalogue!r}>"

    def record(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        received_at: float,
    ) -> RecordedRequest | None:
        """Remember a Bedrock request (the log keeps the newest `request_log_size`); the
        returned record collects the response status and the exact bytes sent back."""
        self._received += 1
        if not self.requests.maxlen:
            return None
        request = RecordedRequest(method, raw_path, query, headers, body, received_at)
        self.requests.append(request)
        return request

    def update_defaults(self, overrides: Mapping[str, Any]) -> Knobs:
        """Change the default knobs for later requests; raises `DirectiveError`."""
        self.knobs = self.knobs.with_overrides(overrides)
        return self.knobs

    def reset_defaults(self) -> Knobs:
        """Back to the configuration's knobs."""
        self.knobs = self.config.knobs()
        return self.knobs

    def statistics(self) -> EmulatorStatistics:
        """Counters so far."""
        return EmulatorStatistics(self._received, len(self.requests), len(self.catalogue.models))
