"""Alarm detection: cg.telemetry + cg.events + cg.status → cg.alarms, raise and clear once per episode.

Per-device rule state lives in a changelog-backed Faust table, so a restarted
worker resumes mid-episode.  The table is written only when a device's state
changes (a debounce step, a raise, a clear): most readings change nothing, and
a table write per event would cap the agent near 3 k events/s (docs/architecture.md).
Silence is noticed by a timer that reads when each device was last seen and
sends a ``silence`` status record, which this agent then handles like an
``offline`` status (timers may not write tables).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import faust

from civicgrid.bus import topics as t
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from civicgrid.domain.alarms import AlarmEvent, evaluate_event, evaluate_presence, evaluate_reading
from civicgrid.profiles import DeviceProfile

log = logging.getLogger(__name__)
APPLIED = "_applied"  # in a device's state: topic:partition → offset of the last record taken in


def alarm_record(source: DeviceRecord | StatusRecord, profile: DeviceProfile, event: AlarmEvent) -> AlarmRecord:
    """The alarm a profile rule fired on `source`, with the rule's target for the case (a presence record carries
    no registry links: its alarm has none either)."""
    rule = next(r for r in profile.alarms if r.id == event.rule_id)
    target = rule.target
    linked = source if isinstance(source, DeviceRecord) else None
    return AlarmRecord(
        alarm_id=f"{source.device_id}:{event.episode}", device_id=source.device_id, kind=source.kind,
        rule=event.rule_id, rule_kind=rule.kind, action=event.action, ts=event.at, value=event.value,
        limit=event.limit, category=target.category, linked_component=target.linked_component,
        component_state=target.component_state, urgency=target.urgency.value, device_alarm=target.device_alarm,
        component_code=linked and linked.component_code, grid_cell_code=linked and linked.grid_cell_code,
        inspector_user_id=linked and linked.inspector_user_id, source_seq=linked and linked.seq)


def register(app: faust.App, profiles: dict[str, DeviceProfile], offline_check_s: float = 10.0) -> None:
    partitions = app.conf.topic_partitions
    source = app.topic(t.TELEMETRY, t.EVENTS, t.STATUS, value_serializer="raw", key_serializer="raw")
    alarms = app.topic(t.ALARMS, partitions=partitions, value_serializer="raw", key_serializer="raw")
    status = app.topic(t.STATUS, partitions=partitions, value_serializer="raw", key_serializer="raw")
    state_table = app.Table("alarm-state", default=dict, partitions=partitions)
    last_seen: dict[str, tuple[float, str, str]] = {}  # device → (monotonic time, kind, profile); per worker
    offline_sent: set[str] = set()

    def evaluate(rec: DeviceRecord | StatusRecord, profile: DeviceProfile,
                 states: dict[str, Any]) -> tuple[dict[str, Any], list[AlarmEvent]]:
        rules = profile.alarms
        if isinstance(rec, StatusRecord):
            return evaluate_presence(rules, states, rec.state == "online", rec.ts)
        # Any message is a sign of life: clears an offline episode (a no-op when none is active).
        states, events = evaluate_presence(rules, states, True, rec.ts)
        if rec.channel == "telemetry":
            states, more = evaluate_reading(rules, states, rec.data, rec.ts)
        else:
            states, more = evaluate_event(rules, states, rec.data.get("type", ""), rec.ts)
        return states, events + more

    @app.agent(source, name="alarm-detection")
    async def detect(stream):
        async for event in stream.events():
            topic = event.message.topic
            try:
                rec: DeviceRecord | StatusRecord = (StatusRecord.decode(event.value) if topic == t.STATUS
                                                    else DeviceRecord.decode(event.value))
                device = rec.device_id
                profile = profiles.get(rec.profile or rec.kind or "")
                if profile is None:
                    continue
                if not isinstance(rec, StatusRecord) or rec.source != "silence":
                    last_seen[device] = (time.monotonic(), rec.kind, profile.kind)
                    offline_sent.discard(device)
                old = state_table[device]
                # Exactly-once state on an at-least-once stream: the state remembers the last record
                # (per topic partition) it took in, so a record re-read after a crash -- its offset was
                # not committed, but the changelog already had its effect -- is not applied twice
                # (seen: a debounce counted twice raised an episode at another reading, a second alarm).
                where = f"{topic}:{event.message.partition}"
                applied = old.get(APPLIED, {})
                if applied.get(where, -1) >= event.message.offset:
                    continue
                new, fired = evaluate(rec, profile, old)
                # The alarm is on Kafka before the state that says it was raised: killed in between, the
                # worker re-reads the record and raises the same episode again (same alarm id, deduplicated
                # downstream) instead of restoring "raised" with the alarm never sent (seen: a lost raise).
                for alarm in fired:
                    delivered = await alarms.send(key=device.encode(),
                                                  value=alarm_record(rec, profile, alarm).encode())
                    await delivered
                if new != old:
                    state_table[device] = {**new, APPLIED: {**applied, where: event.message.offset}}
            except (KeyError, TypeError, ValueError) as exc:  # unreadable: the sinks dead-letter it
                log.error("alarm detection skipped an unreadable %s record: %r", topic, exc)
            except Exception:  # a bug must not stop detection for every other device
                log.exception("alarm detection failed on a %s record (%d bytes)", topic, len(event.value or b""))

    @app.timer(offline_check_s)
    async def notice_silence() -> None:
        now = time.monotonic()
        for device, (seen, kind, profile_name) in list(last_seen.items()):
            profile = profiles.get(profile_name)
            if profile is None or device in offline_sent or now - seen < profile.offline_after_s:
                continue
            offline_sent.add(device)
            record = StatusRecord(device_id=device, kind=kind, profile=profile_name, state="offline",
                                  ts=datetime.now(UTC), retained=False, source="silence",
                                  detail={"silent_s": round(now - seen)})
            await status.send(key=device.encode(), value=record.encode())
