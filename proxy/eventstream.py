"""AWS eventstream framing (sans-I/O): the encoder, a frame splitter and Bedrock's event shapes.

A frame is `total_len:u32 headers_len:u32 prelude_crc:u32 headers payload message_crc:u32`
(big-endian, CRC32 over everything before each checksum). botocore ships only a decoder,
so encoding is ours; decoding a frame's contents delegates to botocore's parser.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
from botocore.eventstream import EventStreamBuffer, ParserError

from proxy.errors import ProxyError

MIN_FRAME_BYTES = 16
MAX_FRAME_BYTES = 16 << 20
_PRELUDE = struct.Struct("!III")
_PRELUDE_BYTES = _PRELUDE.size
_UINT32 = struct.Struct("!I")
_STRING_HEADER_TYPE = 7
_PAD_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

HeaderValue = str | int | bool | bytes


class EventStreamError(ProxyError):
    """Bytes that are not a well-formed eventstream frame (bad length, CRC or contents)."""


@attrs.frozen
class DecodedMessage:
    """One decoded frame: its typed headers and raw payload."""

    headers: dict[str, HeaderValue]
    payload: bytes


def _crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    return binascii.crc32(data, value) & 0xFFFFFFFF


def _encode_headers(headers: Mapping[str, str]) -> bytes:
    parts = []
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        if not 0 < len(raw_name) < 256 or len(raw_value) > 0x7FFF:
            raise ValueError(f"eventstream header {name!r} is too long or empty")
        parts.append(
            bytes((len(raw_name),))
            + raw_name
            + struct.pack("!BH", _STRING_HEADER_TYPE, len(raw_value))
            + raw_value
        )
    return b"".join(parts)


def _frame(header_block: bytes, payload: bytes) -> bytes:
    prelude = struct.pack("!II", len(header_block) + len(payload) + 16, len(header_block))
    prelude += _UINT32.pack(_crc32(prelude))
    crc = _crc32(payload, _crc32(header_block, _crc32(prelude)))
    return b"".join((prelude, header_block, payload, _UINT32.pack(crc)))


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Encode one eventstream frame with string headers (type 7)."""
    return _frame(_encode_headers(headers), payload)


def _check_prelude(buffer: bytearray, start: int) -> int:
    """Validate the prelude at `start` and return the frame's total length."""
    total, headers_len, crc = _PRELUDE.unpack_from(buffer, start)
    if _crc32(buffer[start : start + 8]) != crc:
        raise EventStreamError("eventstream prelude checksum mismatch")
    if not MIN_FRAME_BYTES <= total <= MAX_FRAME_BYTES:
        raise EventStreamError(f"eventstream frame length {total} out of range")
    if headers_len > total - MIN_FRAME_BYTES:
        raise EventStreamError(f"eventstream headers length {headers_len} exceeds frame")
    return int(total)


class FrameSplitter:
    """Cut a byte stream into whole raw frames, checking only preludes (not message CRCs).

    Keeps just the incomplete tail between calls; every byte is copied a bounded number of
    times, so cost is linear in the stream length. After an `EventStreamError` the splitter
    is unusable.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._frame_bytes = 0  # validated length of the frame at the head; 0 = prelude unread

    def __repr__(self) -> str:
        return f"<FrameSplitter buffered={len(self._buffer)} pending_frame={self._frame_bytes}>"

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete (non-zero at end of stream = torn frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data`; return the frames it completed, in order, each exactly as received."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        start, end = 0, len(buffer)
        with memoryview(buffer) as view:
            while True:
                if self._frame_bytes == 0:
                    if end - start < _PRELUDE_BYTES:
                        break
                    self._frame_bytes = _check_prelude(buffer, start)
                stop = start + self._frame_bytes
                if stop > end:
                    break
                frames.append(bytes(view[start:stop]))
                start, self._frame_bytes = stop, 0
        if start:
            del buffer[:start]
        return frames


def decode_message(frame: bytes) -> DecodedMessage:
    """Fully decode one frame with botocore's parser, verifying both CRCs."""
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    try:
        message = buffer.next()
    except StopIteration:
        raise EventStreamError("incomplete eventstream frame") from None
    except (ParserError, ValueError, KeyError, IndexError, struct.error) as exc:
        raise EventStreamError(f"malformed eventstream frame: {exc}") from exc
    if message.prelude.total_length != len(frame):
        raise EventStreamError("trailing bytes after eventstream frame")
    return DecodedMessage(headers=dict(message.headers), payload=bytes(message.payload))


def _padding(length: int) -> str:
    # Bedrock pads each event with a random-length "p" field to hide content sizes; ours is
    # deterministic but varies with the content length the same way.
    return _PAD_ALPHABET[: 1 + length % len(_PAD_ALPHABET)]


_ENCODE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _padded_json(value: Mapping[str, Any]) -> bytes:
    raw = _ENCODE_JSON(value).encode()
    comma = b"," if len(raw) > 2 else b""
    return b'%s%s"p":"%s"}' % (raw[:-1], comma, _padding(len(raw)).encode())


_CHUNK_HEADERS = _encode_headers(
    {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
)
_CONVERSE_EVENT_TYPES = (
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
)
_CONVERSE_HEADERS = MappingProxyType(
    {
        name: _encode_headers(
            {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
        )
        for name in _CONVERSE_EVENT_TYPES
    }
)


def invoke_chunk_frame(event: bytes) -> bytes:
    """An InvokeModelWithResponseStream `chunk` frame carrying one model event (JSON bytes)."""
    encoded = base64.b64encode(event)
    # Base64 needs no JSON escaping, so the envelope is assembled directly.
    payload = b'{"bytes":"%s","p":"%s"}' % (encoded, _padding(len(encoded)).encode())
    return _frame(_CHUNK_HEADERS, payload)


def exception_frame(exception_type: str, message: str) -> bytes:
    """A stream exception frame, e.g. `modelStreamErrorException`, as Bedrock sends it."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, _ENCODE_JSON({"message": message}).encode())


def converse_event_frame(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """A ConverseStream event frame (`messageStart` … `metadata`) with Bedrock's "p" padding."""
    header_block = _CONVERSE_HEADERS.get(event_type)
    if header_block is None:
        raise ValueError(f"unknown ConverseStream event type {event_type!r}")
    return _frame(header_block, _padded_json(payload))


def chunk_event(message: DecodedMessage) -> bytes | None:
    """The model event (JSON bytes) inside an invoke `chunk` frame; None for other frames."""
    headers = message.headers
    if headers.get(":message-type") != "event" or headers.get(":event-type") != "chunk":
        return None
    try:
        return base64.b64decode(json.loads(message.payload)["bytes"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise EventStreamError(f"malformed chunk payload: {exc}") from exc
