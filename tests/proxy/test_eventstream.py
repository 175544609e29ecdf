"""The eventstream codec: encoder, splitter, decoder and Bedrock frame helpers."""

from __future__ import annotations

import base64
import binascii
import json
import struct

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st

from proxy.eventstream import (
    DecodedMessage,
    EventStreamError,
    FrameSplitter,
    chunk_event,
    converse_event_frame,
    decode_message,
    encode_message,
    exception_frame,
    invoke_chunk_frame,
)

# botocore's own vector (tests/unit/test_eventstream.py, PAYLOAD_ONE_STR_HEADER).
KNOWN_FRAME = (
    b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
    b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
)

header_names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20
)
frames = st.builds(
    encode_message,
    st.dictionaries(header_names, st.text(max_size=40), max_size=4),
    st.binary(max_size=300),
)


def _botocore_messages(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


def test_known_frame_bytes() -> None:
    frame = encode_message({"content-type": "application/json"}, b"{'foo':'bar'}")
    assert frame == KNOWN_FRAME
    assert encode_message({}, b"") == bytes.fromhex("000000100000000005c248eb7d98c8ff")


@given(st.dictionaries(header_names, st.text(max_size=40), max_size=5), st.binary(max_size=500))
def test_round_trip_through_botocore(headers: dict[str, str], payload: bytes) -> None:
    frame = encode_message(headers, payload)
    assert _botocore_messages(frame) == [(headers, payload)]
    assert decode_message(frame) == DecodedMessage(headers=dict(headers), payload=payload)


@given(st.lists(frames, max_size=6), st.data())
def test_any_split_yields_the_original_frames(originals: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(originals)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    splitter = FrameSplitter()
    out: list[bytes] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += splitter.feed(stream[start:stop])
    assert out == originals
    assert splitter.buffered == 0


def test_splitter_keeps_the_incomplete_tail() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(KNOWN_FRAME + KNOWN_FRAME[:20]) == [KNOWN_FRAME]
    assert splitter.buffered == 20
    assert splitter.feed(KNOWN_FRAME[20:]) == [KNOWN_FRAME]
    assert splitter.buffered == 0


def test_splitter_does_not_check_the_message_crc() -> None:
    corrupted = KNOWN_FRAME[:-1] + b"\x00"
    assert FrameSplitter().feed(corrupted) == [corrupted]


def test_corrupted_message_crc_raises() -> None:
    with pytest.raises(EventStreamError, match=r"(?i)checksum"):
        decode_message(KNOWN_FRAME[:-1] + b"\x00")


def test_corrupted_payload_raises() -> None:
    tampered = KNOWN_FRAME.replace(b"foo", b"fox")
    with pytest.raises(EventStreamError):
        decode_message(tampered)


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 500 Internal Server Error\r\n\r\n",
        KNOWN_FRAME[:8] + b"\x00\x00\x00\x00" + KNOWN_FRAME[12:],
    ],
)
def test_bad_prelude_raises(garbage: bytes) -> None:
    with pytest.raises(EventStreamError):
        FrameSplitter().feed(garbage)
    with pytest.raises(EventStreamError):
        decode_message(garbage)


def _prelude(total: int, headers: int) -> bytes:
    head = struct.pack("!II", total, headers)
    return head + struct.pack("!I", binascii.crc32(head) & 0xFFFFFFFF)


@pytest.mark.parametrize(("total", "headers"), [(15, 0), ((16 << 20) + 1, 0), (20, 5)])
def test_prelude_lengths_are_bounded(total: int, headers: int) -> None:
    with pytest.raises(EventStreamError):
        FrameSplitter().feed(_prelude(total, headers))


def test_incomplete_or_trailing_bytes_do_not_decode() -> None:
    with pytest.raises(EventStreamError, match="incomplete"):
        decode_message(KNOWN_FRAME[:-2])
    with pytest.raises(EventStreamError, match="trailing"):
        decode_message(KNOWN_FRAME + b"\x00")


def test_invoke_chunk_frame_carries_the_event() -> None:
    event = json.dumps({"type": "message_stop"}).encode()
    message = decode_message(invoke_chunk_frame(event))
    assert message.headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    body = json.loads(message.payload)
    assert set(body) == {"bytes", "p"}
    assert base64.b64decode(body["bytes"]) == event
    assert body["p"].isalnum()
    assert chunk_event(message) == event


def test_chunk_event_ignores_other_frames_and_rejects_bad_payloads() -> None:
    assert chunk_event(decode_message(exception_frame("throttlingException", "x"))) is None
    bad = decode_message(
        encode_message({":event-type": "chunk", ":message-type": "event"}, b'{"bytes": 1}')
    )
    with pytest.raises(EventStreamError):
        chunk_event(bad)


def test_exception_frame_shape() -> None:
    message = decode_message(exception_frame("modelStreamErrorException", "boom"))
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "modelStreamErrorException"
    assert json.loads(message.payload) == {"message": "boom"}


def test_converse_event_frame_shape() -> None:
    message = decode_message(
        converse_event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    )
    assert message.headers[":event-type"] == "contentBlockDelta"
    payload = json.loads(message.payload)
    assert payload.pop("p").isalnum()
    assert payload == {"contentBlockIndex": 0, "delta": {"text": "Hi"}}
    assert json.loads(decode_message(converse_event_frame("messageStop", {})).payload).keys() == {
        "p"
    }
    with pytest.raises(ValueError, match="unknown"):
        converse_event_frame("bogus", {})
