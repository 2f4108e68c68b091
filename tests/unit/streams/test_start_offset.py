"""Where the telemetry job (streams/telemetry.py) starts a partition, pure: its own commit, else the older of the
two groups that read cg.telemetry before it, else the beginning; and which topics the sinks read beside it."""

from __future__ import annotations

from civicgrid.bus import topics
from streams.sinks import sink_topics
from streams.telemetry import LEGACY_GROUPS, start_offset


def test_a_partition_the_job_committed_goes_on_from_its_own_offset() -> None:
    assert start_offset(500, [900, 700]) == 500  # the legacy groups' offsets are history once it has its own


def test_an_upgraded_partition_starts_at_the_older_of_the_detector_and_the_sinks() -> None:
    assert start_offset(None, [900, 700]) == 700  # -sinks behind -alarms: its rows 700-899 still to write
    assert start_offset(None, [700, 900]) == 700


def test_a_partition_a_legacy_group_never_committed_starts_at_the_beginning() -> None:
    assert start_offset(None, [900, None]) is None  # the sinks never took it: nothing may be assumed written
    assert start_offset(None, [None, None]) is None  # a new city
    assert start_offset(None, []) is None


def test_both_legacy_groups_are_asked_for_telemetry_and_the_detector_for_the_rest() -> None:
    assert LEGACY_GROUPS == {topics.TELEMETRY: ("alarms", "sinks"), topics.EVENTS: ("alarms",),
                             topics.STATUS: ("alarms",)}


def test_the_sinks_leave_telemetry_out_only_beside_the_telemetry_job() -> None:
    assert sink_topics(telemetry_job_here=True) == [topics.EVENTS, topics.ALARMS]
    assert sink_topics(telemetry_job_here=False) == [topics.TELEMETRY, topics.EVENTS, topics.ALARMS]
