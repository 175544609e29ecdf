"""What one proxied request used: the message every route sends to the usage accountant."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen(kw_only=True)
class UsageEvent:
    """Exactly one per proxied request, success or failure, streaming or not."""

    request_id: str
    user_id: int
    api_key_id: int | None
    model_id: str
    model_name: str | None
    region: str
    route: str
    requested_at: datetime
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    response_time_ms: int = 0
    first_byte_ms: int | None = None
    success: bool = True
    status_code: int = 200
    error_type: str | None = None
    error_message: str | None = None
    stop_reason: str | None = None
    streaming: bool = False
    partial: bool = False
    client_session_id: str | None = None
