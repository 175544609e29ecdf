"""Log setup: one line per record, text or JSON, on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from ops.config import LoggingConfig

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# libraries that log request lines or signed headers at their own levels
_QUIET = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "hpack", "coredis", "alembic")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(config: LoggingConfig) -> None:
    """Install our handler on the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(config.level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
