"""Log lines of every civicgrid process: one set-up, two formats (docs/observability.md).

``text`` (the default) is for a person at a terminal or reading ``var/log/``; ``json`` is one JSON object a
line for a log collector (Loki, Elasticsearch, a cloud's logging agent), with ``timestamp`` (ISO 8601, UTC),
``level``, ``logger``, ``message``, ``service`` and whatever the log call names in ``extra=``. The ids an
operator searches by are passed that way on the lines that matter (``extra={"device_id": …, "case_id": …}``),
so a collector can find every line about one device or case without parsing prose; in text they are appended
as ``key=value``.

The CLI's callback sets this up once per process (civicgrid/cli.py), naming the service by its command, so the
gateway, worker, API, camera poller and ``civicgrid run`` itself all log alike. python-json-logger does the JSON
(its orjson formatter): it carries every ``extra`` field, exceptions and odd values without code of ours.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

LogFormat = Literal["text", "json"]

# The ids a log call may carry in `extra=`, in the order the text format appends them.
CONTEXT_FIELDS = ("device_id", "case_id", "alarm_key", "command_id", "reason")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"
# uvicorn's own `extra` (the message again, with ANSI colours) is noise in a JSON line.
_SKIPPED = (*RESERVED_ATTRS, "color_message", "context")
# Libraries whose INFO lines are their own chatter: yoyo logs every migration step, aiokafka each rebalance step.
QUIET_LOGGERS = ("yoyo", "aiokafka")


class TextContext(logging.Filter):
    """Adds ``record.context``: " device_id=… case_id=…" for the context fields the call carried, else ""."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = [f"{name}={value}" for name in CONTEXT_FIELDS
                  if (value := getattr(record, name, None)) is not None]
        record.context = " [" + " ".join(fields) + "]" if fields else ""
        return True


def json_formatter(service: str) -> logging.Formatter:
    """JSON lines: timestamp, level, logger, message, service, and the call's `extra` fields."""
    return OrjsonFormatter("{levelname}{name}{message}", style="{", timestamp=True, static_fields={"service": service},
                           rename_fields={"levelname": "level", "name": "logger"}, reserved_attrs=_SKIPPED)


def text_formatter() -> logging.Formatter:
    return logging.Formatter(TEXT_FORMAT)


def setup_logging(service: str, log_format: LogFormat = "text", level: int | str = logging.INFO) -> None:
    """Replace the root logger's handlers with one on stderr in `log_format`; `service` names the process in
    JSON lines. Called again (the worker's own --loglevel), it replaces what the first call set up."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(json_formatter(service))
    else:
        handler.addFilter(TextContext())
        handler.setFormatter(text_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    if logging.getLevelName(root.level) != "DEBUG":
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
