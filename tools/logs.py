"""Logging set-up: plain text on a terminal, one JSON object a line in production."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from tools.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with any ``extra`` fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


LOG_FILE_NAME = "helpdesk.log"
"""Where a terminal session (``helpdesk chat``) logs, inside the data folder."""


def configure_logging(settings: Settings, *, quiet: bool = False) -> None:
    """Route the product's logs to stderr in the configured format.

    Args:
        settings: gives the level and the format.
        quiet: log to ``helpdesk.log`` in the data folder instead of the
            terminal (the terminal chat uses this, so logs never interleave
            with the conversation).

    Raises:
        ConfigError: ``quiet`` and the data folder cannot be written.
    """
    handler: logging.Handler
    if quiet:
        folder = settings.prepare_data_dir()
        handler = logging.FileHandler(folder / LOG_FILE_NAME, delay=True)
    else:
        handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Third-party clients log every header at INFO, and Alembic every migration
    # context; our own lines (one per outbound call, one per migration) suffice.
    for noisy in ("azure", "httpx", "openai", "aiohttp.access", "msal", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
