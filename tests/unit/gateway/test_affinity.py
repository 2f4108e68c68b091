"""Device-affine gateways: which gateway of a fleet forwards which device (gateway/affinity.py)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.affinity import Affinity, owner

device_ids = st.from_regex(r"[a-z][a-z0-9-]{2,40}", fullmatch=True)


@given(device_ids, st.integers(min_value=1, max_value=64), st.sampled_from(["telemetry", "event", "cmd/ack"]))
def test_exactly_one_gateway_of_a_fleet_owns_each_device(device_id: str, instances: int, channel: str) -> None:
    owners = [i for i in range(instances) if Affinity(i, instances).owns(f"cg/{device_id}/{channel}")]
    assert owners == [owner(device_id, instances)]


def test_the_owner_is_crc32_of_the_id_so_every_process_and_version_agrees() -> None:
    assert owner("manhole-sensor-3ad3331e", 4) == zlib.crc32(b"manhole-sensor-3ad3331e") % 4
    assert [owner(f"bin-{n:04d}", 3) for n in range(6)] == [zlib.crc32(f"bin-{n:04d}".encode()) % 3 for n in range(6)]


def test_a_fleet_of_one_owns_everything_and_an_unplaceable_topic_goes_to_gateway_zero() -> None:
    assert Affinity(0, 1).owns("anything")
    assert [Affinity(i, 3).owns("cg/no-channel") for i in range(3)] == [True, False, False]
    assert [Affinity(i, 3).owns("other/x/y") for i in range(3)] == [True, False, False]


def test_devices_spread_over_the_fleet() -> None:
    counts = [0, 0, 0, 0]
    for n in range(4000):
        counts[owner(f"manhole-sensor-{n:06d}", 4)] += 1
    assert all(900 < c < 1100 for c in counts), counts


@pytest.mark.parametrize(("instance", "instances"), [(1, 1), (-1, 2), (5, 3)])
def test_an_instance_outside_the_fleet_is_refused(instance: int, instances: int) -> None:
    with pytest.raises(ValueError, match="not one of"):
        Affinity(instance, instances)
