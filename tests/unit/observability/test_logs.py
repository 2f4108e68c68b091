"""civicgrid/logs.py: the JSON lines a log collector reads, and the text a person reads, with the ids a call
carries in `extra=`."""

from __future__ import annotations

import io
import logging
import sys
from datetime import datetime

import orjson
import pytest

from civicgrid.logs import TextContext, json_formatter, setup_logging, text_formatter


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad cover")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("streams.case_builder", logging.INFO, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_the_fixed_fields_and_the_ids_the_call_carried() -> None:
    record = _record("%s opened → case %s", "alarm:mh-1:3", "c-42", device_id="mh-1", case_id="c-42",
                     alarm_key="mh-1:3", color_message="\x1b[1mnoise\x1b[0m")
    line = orjson.loads(json_formatter("worker").format(record))
    assert line == {"timestamp": line["timestamp"], "level": "INFO", "logger": "streams.case_builder",
                    "message": "alarm:mh-1:3 opened → case c-42", "service": "worker",
                    "device_id": "mh-1", "case_id": "c-42", "alarm_key": "mh-1:3"}
    at = datetime.fromisoformat(line["timestamp"])
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0
    assert abs(at.timestamp() - record.created) < 0.001


def test_a_json_line_carries_the_exception_and_stays_one_line() -> None:
    text = json_formatter("gateway").format(_record("failed for %s", "mh-2", exc=True, device_id="mh-2"))
    assert "\n" not in text
    line = orjson.loads(text)
    assert line["service"] == "gateway" and line["device_id"] == "mh-2"
    assert "ValueError: bad cover" in line["exc_info"]


def test_text_lines_append_the_ids_and_nothing_when_there_are_none() -> None:
    formatter, context = text_formatter(), TextContext()
    with_ids = _record("opened", case_id="c-1", device_id="mh-3")
    plain = _record("pool open")
    assert context.filter(with_ids) and context.filter(plain)
    assert formatter.format(with_ids).endswith("streams.case_builder: opened [device_id=mh-3 case_id=c-1]")
    assert formatter.format(plain).endswith("streams.case_builder: pool open")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_setup_replaces_the_root_handler_and_quiets_chatty_libraries(log_format: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("api", log_format)  # type: ignore[arg-type]
        setup_logging("api", log_format, logging.WARNING)  # the worker's --loglevel over the CLI's set-up
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        assert logging.getLogger("aiokafka").level == logging.WARNING
        logging.getLogger("api.background").warning("ack %s dead-lettered", 7, extra={"device_id": "bin-9"})
        written = out.getvalue().strip()
        if log_format == "json":
            assert orjson.loads(written)["device_id"] == "bin-9" and orjson.loads(written)["service"] == "api"
        else:
            assert written.endswith("api.background: ack 7 dead-lettered [device_id=bin-9]")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
