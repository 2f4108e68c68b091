"""The recorded device payloads of tests/fixtures/payloads/<kind>/cases.yaml."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

PAYLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"


@dataclass(frozen=True)
class PayloadCase:
    kind: str
    name: str
    channel: str
    payload: bytes
    expect: str  # "accept" or a dead-letter reason
    data: dict[str, Any] | None
    data_subset: dict[str, Any] | None
    ts: str | None
    status: str | None

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.name}"

    def matches(self, record: dict[str, Any]) -> None:
        """Assert that an accepted record carries exactly what the case expects."""
        if self.status is not None:
            assert record["state"] == self.status
            return
        if self.data is not None:
            assert record["data"] == self.data
        if self.data_subset is not None:
            assert {k: record["data"].get(k) for k in self.data_subset} == self.data_subset
        if self.ts is not None:
            assert record["ts"] == self.ts


def _payload_bytes(case: dict[str, Any]) -> bytes:
    if "payload" in case:
        return orjson.dumps(case["payload"])
    if "raw" in case:
        return case["raw"].encode()
    if "raw_b64" in case:
        return base64.b64decode(case["raw_b64"])
    repeat = case["raw_repeat"]
    return (repeat["text"] * repeat["times"]).encode()


def load_cases() -> list[PayloadCase]:
    cases = []
    for path in sorted(PAYLOADS.glob("*/cases.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append(PayloadCase(
                kind=path.parent.name, name=case["name"], channel=case["channel"], payload=_payload_bytes(case),
                expect=case["expect"], data=case.get("data"), data_subset=case.get("data_subset"),
                ts=case.get("ts"), status=case.get("status"),
            ))
    return cases
