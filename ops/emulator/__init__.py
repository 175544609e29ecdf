"""A faithful stand-in for AWS Bedrock (runtime + model listings) for tests, benchmarks, demos."""

from ops.emulator.app import EmulatorApp, create_emulator_app
from ops.emulator.catalogue import Catalogue, FoundationModel
from ops.emulator.config import EmulatorConfig, Knobs
from ops.emulator.server import EmulatorHandle, serve_emulator
from ops.emulator.state import EmulatorState, EmulatorStatistics, RecordedRequest

__all__ = [
    "Catalogue",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorState",
    "EmulatorStatistics",
    "FoundationModel",
    "Knobs",
    "RecordedRequest",
    "create_emulator_app",
    "serve_emulator",
]
