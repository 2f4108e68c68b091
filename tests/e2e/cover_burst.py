"""A burst from manhole-cover sensors for the kill tests: each cover fitted to a component, each sensor publishing
its readings at QoS 1 from a thread of its own (about 18 a second), with tilt episodes that become alarms and
cases, and (`answer_commands`) answering the downlink commands it receives; and what the database made of them
(`episodes_report`: where an episode went missing)."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable

import orjson
import psycopg

from civicgrid.settings import Settings
from tests.support.mqtt import MqttTestClient
from tests.support.services import wait_for

EPISODE_EVERY = 40  # readings 10-14 of every 40 tilt the cover


def tilt(seq: int) -> float:
    return 30.0 if seq % EPISODE_EVERY in (10, 11, 12, 13, 14) else 1.0


def episodes_report(db: psycopg.Connection, ids: list[str]) -> str:
    """Where an episode went missing, per device: raised (the alarms hypertable) but not evidence, or never
    raised."""
    rows = db.execute(
        "SELECT a.device_id, count(DISTINCT a.alarm_id) FILTER (WHERE a.action = 'raise'), "
        "       (SELECT count(*) FROM case_evidence e WHERE e.device_id = a.device_id), "
        "       array_agg(DISTINCT (a.payload->>'source_seq')::int) FILTER (WHERE a.action = 'raise') "
        "FROM alarms a WHERE a.device_id = ANY(%s) GROUP BY 1 ORDER BY 1", (ids,)).fetchall()
    return "\n".join(f"{device}: {raised} raised, {evidence} evidence, raise seqs {sorted(seqs or [])}"
                      for device, raised, evidence, seqs in rows)


class CoverBurst:
    def __init__(self, settings: Settings, db: psycopg.Connection, provision: Callable[..., tuple[str, str]], *,
                 devices: int, readings: int, component_class: str, minute_hour: int = 1,
                 answer_commands: bool = False) -> None:
        """`component_class`: the 4 digits after the county's code in the components' codes (a test's own).
        `answer_commands`: each sensor answers `ok` to the commands it receives, and stays connected after its
        readings until `release()`."""
        self.settings, self.db, self.readings, self.hour = settings, db, readings, minute_hour
        run = int(uuid.uuid4().hex[:6], 16) % 900000
        self.components = [f"341523{component_class}{n:06d}" for n in range(run, run + devices)]
        for code in self.components:
            db.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0103', 117.6, 31.8) "
                       "ON CONFLICT DO NOTHING", (code,))
        self.devices = [provision("manhole-sensor", component_code=code) for code in self.components]
        self.ids = [d for d, _ in self.devices]
        self.published = [0] * devices
        self.failures: list[str] = []
        self.answer_commands = answer_commands
        self.answered: list[str] = []  # command ids, as answered
        self._release = threading.Event()
        self._threads = [threading.Thread(target=self._burst, args=(i, *d)) for i, d in enumerate(self.devices)]

    @property
    def total(self) -> int:
        return len(self.devices) * self.readings

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def release(self) -> None:
        """Let the sensors that answer commands disconnect once their readings are out."""
        self._release.set()

    def join(self, timeout_s: float = 120) -> None:
        for t in self._threads:
            t.join(timeout_s)

    def until_published(self, fraction: float) -> None:
        wait_for(lambda: sum(self.published) >= self.total * fraction or self.failures, 120,
                 f"{fraction:.0%} of the burst published")

    def rows(self) -> int:
        return self.db.execute("SELECT count(*) FROM telemetry WHERE device_id = ANY(%s)", (self.ids,)).fetchone()[0]

    def evidence(self) -> int:
        return self.db.execute("SELECT coalesce(sum(evidence_count), 0) FROM cases WHERE component_code = ANY(%s)",
                               (self.components,)).fetchone()[0]

    def missing(self) -> list[tuple[str, int]]:
        """Readings with a PUBACK but no row (the first 20)."""
        return self.db.execute(
            "SELECT d, s FROM unnest(%s::text[]) d, generate_series(1, %s) s EXCEPT "
            "SELECT device_id, seq FROM telemetry WHERE device_id = ANY(%s) ORDER BY 1, 2 LIMIT 20",
            (self.ids, self.readings, self.ids)).fetchall()

    def cases(self) -> list[tuple[str, int, int]]:
        """(component, its cases, their evidence) per cover."""
        return self.db.execute("SELECT component_code, count(*), sum(evidence_count) FROM cases "
                               "WHERE component_code = ANY(%s) GROUP BY 1", (self.components,)).fetchall()

    def assert_every_reading_once_and_one_case_per_cover(self) -> list[tuple[str, int, int]]:
        """Every reading with a PUBACK is one row, and each cover has exactly one case; (component, cases,
        evidence) per cover, for the caller's checks of the episodes."""
        missing = self.missing()
        assert not missing, f"readings with a PUBACK but no row: {missing}"
        assert self.rows() == self.total
        per_component = self.cases()
        assert sorted(c for c, _, _ in per_component) == sorted(self.components)
        assert all(n == 1 for _, n, _ in per_component), (per_component, episodes_report(self.db, self.ids))
        return per_component

    def _burst(self, index: int, device_id: str, secret: str) -> None:
        client = MqttTestClient(self.settings.mqtt.host, self.settings.mqtt.port, device_id, secret,
                                client_id=device_id)
        client.connect()
        if self.answer_commands:
            client.subscribe(f"cg/{device_id}/cmd")
        try:
            for seq in range(1, self.readings + 1):
                body = (f'{{"seq":{seq},"ts":"2026-11-24T{self.hour:02d}:{seq // 60:02d}:{seq % 60:02d}Z",'
                        f'"tilt_deg":{tilt(seq)}}}')
                if client.publish(f"cg/{device_id}/telemetry", body.encode()).value != 0:
                    self.failures.append(f"{device_id} seq {seq}: no PUBACK")
                    return
                self.published[index] = seq
                self._answer(client, device_id)
                time.sleep(0.05)
            while self.answer_commands and not self._release.wait(0.1):
                self._answer(client, device_id)
        finally:
            client.close()

    def _answer(self, client: MqttTestClient, device_id: str) -> None:
        while self.answer_commands:
            try:
                command = orjson.loads(client.messages.get_nowait().payload)
            except queue.Empty:
                return
            client.publish(f"cg/{device_id}/cmd/ack", orjson.dumps({"command_id": command["command_id"],
                                                                   "status": "ok"}))
            self.answered.append(command["command_id"])
