"""The `/_emulator/...` control endpoints tests and benchmarks use (no SigV4 on these)."""

from __future__ import annotations

import json
from typing import Any

import attrs

from ops.emulator.catalogue import model_from_request
from ops.emulator.config import DirectiveError
from ops.emulator.responses import Response, ServiceError, json_response, validation_error
from ops.emulator.state import EmulatorState


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise validation_error("body must be a JSON object") from None
    if not isinstance(value, dict):
        raise validation_error("body must be a JSON object")
    return value


def _knobs(state: EmulatorState) -> Response:
    return json_response(attrs.asdict(state.knobs))


def handle_control(state: EmulatorState, method: str, path: str, body: bytes) -> Response:
    """Serve one control request; `path` is below `/_emulator`."""
    if path == "/requests" and method == "GET":
        return json_response({"requests": [r.to_json() for r in state.requests]})
    if path == "/requests" and method == "DELETE":
        cleared = len(state.requests)
        state.requests.clear()
        return json_response({"cleared": cleared})
    if path == "/defaults" and method == "GET":
        return _knobs(state)
    if path == "/defaults" and method == "PUT":
        try:
            state.update_defaults(_object(body))
        except DirectiveError as exc:
            raise validation_error(str(exc)) from exc
        return _knobs(state)
    if path == "/defaults" and method == "DELETE":
        state.reset_defaults()
        return _knobs(state)
    if path == "/models" and method == "POST":
        model = model_from_request(_object(body))
        state.catalogue.add(model)
        return json_response(model.summary(state.config.region), status=201)
    if path == "/prompt-cache" and method == "DELETE":
        state.prompt_cache.clear()
        return json_response({})
    if path == "/statistics" and method == "GET":
        return json_response(attrs.asdict(state.statistics()))
    raise ServiceError(404, "UnknownOperationException", f"No control endpoint {method} {path}")
