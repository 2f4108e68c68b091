"""Fuzz pass over the gateway's payload parsing (hypothesis, bounded): whatever a device sends on whatever topic,
the ingestor answers a record or a dead letter that Kafka takes, and never raises.

Three generators, each a bounded number of examples: arbitrary bytes; JSON values shaped like each kind's
payloads (right field names, wrong types, extremes); and mutations of the recorded good payloads. The
counts are printed (`pytest -s`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicgrid.bus import records
from civicgrid.profiles import CHANNELS, load_profiles
from civicgrid.settings import GatewaySettings
from gateway.ingest import Ingestor
from gateway.registry import DeviceInfo
from tests.support.payloads import load_cases

NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
PROFILES = load_profiles()
KINDS = sorted(PROFILES)
KAFKA_MAX_BYTES = 1_000_000  # the producer's message.max.bytes default (1 MB)
SETTINGS = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
SEEN: dict[str, int] = {}


def _ingestor() -> Ingestor:
    devices = {f"{k}-1": DeviceInfo.from_row((f"{k}-1", k, k, True, None, None, None, None, None, None)) for k in KINDS}
    return Ingestor(PROFILES, devices.get, GatewaySettings(max_payload_bytes=64 * 1024))


INGESTOR = _ingestor()
topics = st.one_of(
    st.builds(lambda kind, channel: f"cg/{kind}-1/{channel}", st.sampled_from(KINDS),
              st.sampled_from([*CHANNELS, "cmd", "cmd/ack", "x", ""])),
    st.text(max_size=40),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
field_names = sorted({name for p in PROFILES.values() for c in p.channels.values()
                      for name in getattr(c, "fields", {}) or {}} | {"seq", "ts", "command_id", "status", "state"})
# The standard library's encoder: it writes what orjson will not (NaN, Infinity, integers past 64 bits).
shaped = st.dictionaries(st.sampled_from(field_names), json_values, max_size=8).map(
    lambda value: json.dumps(value).encode())
good = [c for c in load_cases() if c.expect == "accept"]


def _check(topic: str, payload: bytes, kind: str) -> None:
    out = INGESTOR.handle(topic, payload, received_at=NOW)
    SEEN[kind] = SEEN.get(kind, 0) + 1
    if out is not None:
        assert len(out.value) < KAFKA_MAX_BYTES
        record = records.loads(out.value)
        assert record["v"] == records.SCHEMA_VERSION


@SETTINGS
@given(topic=topics, payload=st.binary(max_size=2048))
def test_arbitrary_bytes(topic: str, payload: bytes) -> None:
    _check(topic, payload, "bytes")


@SETTINGS
@given(topic=topics, payload=shaped)
def test_payloads_shaped_like_the_profiles(topic: str, payload: bytes) -> None:
    _check(topic, payload, "shaped")


@SETTINGS
@given(case=st.sampled_from(good), cut=st.integers(0, 400), junk=st.binary(max_size=16))
def test_mutated_good_payloads(case, cut: int, junk: bytes) -> None:
    mutated = case.payload[:cut] + junk + case.payload[cut + len(junk):]
    _check(f"cg/{case.kind}-1/{case.channel}", mutated, "mutated")


def test_an_oversized_payload_becomes_a_small_dead_letter() -> None:
    out = INGESTOR.handle("cg/bin-sensor-1/telemetry", b"{" + b" " * 5_000_000 + b"}", received_at=NOW)
    record = records.loads(out.value)
    assert (record["reason"], record["truncated"], record["size"]) == ("too_large", True, 5_000_002)
    assert len(out.value) < 10_000
    print(f"\nfuzzed payloads: {SEEN}")
