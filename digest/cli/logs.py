"""How the long-running commands (`digest serve`, `digest inbound`) log: plain lines for a
terminal or journald, or one JSON object per line (`--log-format json`) for a log shipper.

Records are written to whatever `sys.stderr` is at the time (not the stream at start-up), and
configuring twice replaces the handler instead of doubling every line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"
# Migrations and APScheduler's per-run chatter ("Running job …" every minute) are noise here.
QUIET = ("alembic", "apscheduler")
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")

log_format_option = click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Log lines as plain text, or as one JSON object per line.",
)


def json_line(record: logging.LogRecord, message: str | None = None) -> str:
    """One log record as a JSON object; an access record also gets its fields by name."""
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": message if message is not None else record.getMessage(),
    }
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        entry.update(zip(ACCESS_FIELDS, args, strict=True))
    if record.exc_info:
        entry["exception"] = logging.Formatter().formatException(record.exc_info)
    return json.dumps(entry, ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json_line(record)


class _Stderr(logging.Handler):
    """Writes to the current `sys.stderr`, so a replaced stream (a test, a daemon) is used."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure(log_format: str = "text") -> None:
    """Route every logger (the project's, uvicorn's, APScheduler's) to stderr in one format."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event_line(message: str, log_format: str, *, logger: str) -> str:
    """A line a command prints per event (e.g. each message `digest inbound` read) in the
    chosen format: the text as is, or the same JSON object a log record would be."""
    if log_format != "json":
        return message
    record = logging.LogRecord(logger, logging.INFO, __file__, 0, message, None, None)
    return json_line(record)
