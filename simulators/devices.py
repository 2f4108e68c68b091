"""Sensor simulators (manhole covers, trash bins): each a real MQTT client with its own login.

Each device publishes its profile's payloads on `cg/{id}/{channel}` at QoS 1 (JSON with `seq`
and `ts`) every `reporting_interval_s` of simulated time, with noise, and injects faults at a
configurable rate (a probability per reading). Every fault is recorded as a `Fault` (device,
kind, simulated start time, the alarm rules it must raise) so tests can check invariants.
A device that "goes silent" drops its connection without a DISCONNECT: the broker publishes
its Last Will (`offline` on `cg/{id}/status`), as it would for a real device whose battery died.

Do not import gateway/, streams/ or api/ here: the simulators are outside the platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt
import orjson

MANHOLE_FAULTS = {  # kind: (readings the fault lasts, alarm rules it must raise, weight)
    "tilt": (3, ("cover_tilted",), 3),
    "displaced": (3, ("cover_displaced",), 2),
    "water": (4, ("water_high", "water_surge"), 2),
    "gas": (2, ("gas_high",), 1),
    "battery": (4, ("battery_low",), 1),
    "silent": (0, ("offline",), 0.3),
}
BIN_FAULTS = {
    "overflow": (3, ("overflow",), 3),
    "fire": (2, ("fire",), 1),
    "battery": (4, ("battery_low",), 1),
    "silent": (0, ("offline",), 0.3),
}
COOL_DOWN = 5  # normal readings after a fault before the next one (its alarm clears first)


@dataclass(slots=True)
class Fault:
    device_id: str
    kind: str
    at: datetime  # simulated time of the first faulty reading
    rules: tuple[str, ...]  # any of these alarm rules must be raised
    readings: int  # faulty readings it lasts (0: going silent)
    interval_s: float
    published: int = 0  # faulty readings the broker acknowledged
    last_at: datetime | None = None  # simulated time of its latest faulty reading

    @property
    def complete(self) -> bool:
        """All its readings were sent (a run may stop in the middle of a fault)."""
        return self.published >= self.readings


class SimClock:
    """Simulated time: `start` + wall time elapsed × `speed`.

    With `catch_up`, the clock never runs ahead of the wall clock: a day placed on today runs at `speed`
    until it reaches the present, then at 1× (the gateway refuses device times in the future, so a
    compressed day must start in the past; `lag_s` keeps the newest readings safely behind now)."""

    def __init__(self, start: datetime, speed: float, *, catch_up: bool = False, lag_s: float = 2.0) -> None:
        self.start, self.speed = start, speed
        self.catch_up, self.lag = catch_up, timedelta(seconds=lag_s)
        self.t0 = time.monotonic()

    def now(self) -> datetime:
        t = self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)
        if self.catch_up:
            t = min(t, datetime.now(UTC) - self.lag)
        return t

    def caught_up(self) -> bool:
        """Whether a catching-up clock has reached the present (and now runs at 1×)."""
        return self.catch_up and self.now() >= datetime.now(UTC) - self.lag - timedelta(seconds=1)

    def wall(self, sim_s: float) -> float:
        return sim_s if self.caught_up() else sim_s / self.speed


@dataclass
class SimContext:
    host: str
    port: int
    clock: SimClock
    seed: int = 0
    fault_rate: float = 0.01
    report_rate: float = 0.02
    intervals: dict[str, float] = field(default_factory=dict)  # kind → reporting interval (sim s) override
    sent: Counter = field(default_factory=Counter)  # channel → messages acknowledged by the broker
    errors: Counter = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    reports: list[tuple[str, str]] = field(default_factory=list)  # (device, report_id)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # The API for handhelds' photo uploads (None: reports go without photos); `http` is opened by the scenario.
    api_url: str | None = None
    http: Any = None  # httpx.AsyncClient
    uploads: Counter = field(default_factory=Counter)  # "ok" / "failed" photo uploads
    # Components with a QR label (code, lon, lat) a handheld photographs when reporting them (the trash bins).
    labelled: list[tuple[str, float, float]] = field(default_factory=list)
    labelled_reports: int = 0  # reports whose photo shows a component's label instead of its typed id
    tls_ca: Path | None = None  # set: devices connect over TLS, trusting this CA (as real devices on 4G do)
    # The inspectors' answers to field tasks (the people's scenario, simulators/scenarios/county.yaml):
    # the share of verifications that find nothing and of checks that find the problem unsolved (返工).
    refute_rate: float = 0.0
    check_fail_rate: float = 0.0

    def tls_params(self) -> aiomqtt.TLSParameters | None:
        return None if self.tls_ca is None else aiomqtt.TLSParameters(ca_certs=str(self.tls_ca))

    def interval(self, kind: str, default: float) -> float:
        return float(self.intervals.get(kind, default))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


class SimDevice:
    """Base: connection, seq counter, the publish loop. Subclasses implement `readings(now)`."""

    kind = ""
    default_interval_s = 60.0

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        self.spec, self.id, self.secret, self.ctx = spec, spec["id"], secret, ctx
        self.rng = random.Random(f"{ctx.seed}:{self.id}")
        self.seq = 0
        self.interval_s = ctx.interval(self.kind, self.default_interval_s)
        self.silent = False
        self.client: aiomqtt.Client | None = None
        self.active_fault: Fault | None = None  # the fault the reading being sent shows

    def payload(self, now: datetime, **data: Any) -> bytes:
        self.seq += 1
        return orjson.dumps({"seq": self.seq, "ts": iso(now), **data})

    def readings(self, now: datetime) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    def record_fault(self, kind: str, now: datetime, table: dict[str, tuple]) -> Fault:
        readings, rules, _ = table[kind]
        fault = Fault(self.id, kind, now, rules, readings, self.interval_s)
        self.ctx.faults.append(fault)
        return fault

    async def publish(self, channel: str, body: bytes) -> None:
        assert self.client is not None
        try:
            await self.client.publish(f"cg/{self.id}/{channel}", body, qos=1, timeout=30)
            self.ctx.sent[channel] += 1
            if channel == "telemetry" and self.active_fault is not None:
                self.active_fault.published += 1
        except aiomqtt.MqttError:
            self.ctx.errors[channel] += 1

    async def run(self) -> None:
        will = aiomqtt.Will(f"cg/{self.id}/status", b"offline", qos=1)
        # Spread the fleet's first readings over one interval.
        await asyncio.sleep(self.ctx.clock.wall(self.rng.uniform(0, self.interval_s)) * 0.5)
        try:
            async with aiomqtt.Client(self.ctx.host, self.ctx.port, username=self.id, password=self.secret,
                                      identifier=self.id, will=will, keepalive=60, timeout=20,
                                      tls_params=self.ctx.tls_params()) as client:
                self.client = client
                await self.publish("status", b"online")
                await self.loop()
        except aiomqtt.MqttError:
            if not self.silent:
                self.ctx.errors["connection"] += 1

    async def loop(self) -> None:
        # A fixed period (as real devices report), not a pause after each publish: the broker's
        # round trip must not stretch the interval, or a fleet at high speed offers less than planned.
        next_at = time.monotonic()
        while not self.ctx.stopping.is_set():
            now = self.ctx.clock.now()
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the payloads carry milliseconds
            for channel, body in self.readings(now):
                if self.ctx.stopping.is_set():
                    return
                await self.publish(channel, body)
            if self.silent:
                self.drop_connection()
                return
            next_at += self.ctx.clock.wall(self.interval_s * self.rng.uniform(0.95, 1.05))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ctx.stopping.wait(), max(0.0, next_at - time.monotonic()))

    def drop_connection(self) -> None:
        """Close the socket without DISCONNECT: the broker then publishes the Last Will."""
        assert self.client is not None
        sock = self.client._client.socket()  # an abrupt close is the point here
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FaultySensor(SimDevice):
    """Picks faults at `ctx.fault_rate` per reading, one at a time, with a cool-down after each."""

    faults: ClassVar[dict[str, tuple]] = {}

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        super().__init__(spec, secret, ctx)
        self.fault_left = 0
        self.cool = 2  # the first readings are normal
        self.battery = self.rng.uniform(70, 100)

    def step_fault(self, now: datetime) -> str | None:
        """The fault this reading shows (starting one at random), or None; sets `active_fault`."""
        if self.fault_left > 0:
            self.fault_left -= 1
        elif self.cool > 0 or not self.settled():
            self.cool = max(0, self.cool - 1)
            self.active_fault = None
        elif self.rng.random() < self.ctx.fault_rate:
            kinds = list(self.faults)
            kind = self.rng.choices(kinds, [self.faults[k][2] for k in kinds])[0]
            fault = self.record_fault(kind, now, self.faults)
            if kind == "silent":
                self.silent = True
                self.active_fault = None
                return None
            self.active_fault, self.fault_left = fault, fault.readings - 1
        else:
            self.active_fault = None
        current = self.active_fault
        if current is not None:
            current.last_at = now
            if self.fault_left == 0:
                self.end_fault()
        return current.kind if current is not None else None

    def settled(self) -> bool:
        """Whether readings are back to normal, so that the last fault's alarms have cleared."""
        return True

    def end_fault(self) -> None:
        """After the fault's last reading: normal readings again (a flat battery is replaced)."""
        self.cool = COOL_DOWN
        if self.battery < 30:
            self.battery = 100.0

    def battery_pct(self, fault: str | None) -> float:
        if fault == "battery":
            return round(self.rng.uniform(8, 16), 1)
        self.battery = max(35.0, self.battery - 0.01)
        return round(self.battery, 1)

    def signal(self) -> float:
        return round(self.rng.uniform(-95, -65), 1)


class ManholeSensor(FaultySensor):
    kind = "manhole-sensor"
    default_interval_s = 300.0
    faults: ClassVar[dict[str, tuple]] = MANHOLE_FAULTS

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        super().__init__(spec, secret, ctx)
        self.water = self.rng.uniform(150, 500)
        self._walked_at: datetime | None = None  # the time of the reading the water level last moved at

    def settled(self) -> bool:
        return self.water < 700

    def readings(self, now: datetime) -> list[tuple[str, bytes]]:
        fault = self.step_fault(now)
        if self.silent:
            return []
        tilt = self.rng.uniform(20, 45) if fault == "tilt" else abs(self.rng.gauss(1.0, 0.6))
        disp = self.rng.uniform(60, 400) if fault == "displaced" else abs(self.rng.gauss(2.0, 1.0))
        if fault == "water":  # rises once (a surge), then stays high with a little noise
            high = self.water > 1200
            self.water = self.water + self.rng.uniform(-15, 15) if high else self.rng.uniform(1320, 1500)
        else:  # back to normal slowly (no surge on the way down: < 300 mm in 600 s), then a slow random walk
            target = self.rng.uniform(150, 600)
            # A step per reporting interval: readings closer together (bench/_packetload.py sends a device's a
            # fraction of a second apart) move the level that share of a step, or the walk alone would climb
            # 300 mm within the surge rule's 600 s and raise water_surge with no fault.
            since = None if self._walked_at is None else (now - self._walked_at).total_seconds()
            share = 1.0 if since is None else max(0.0, min(1.0, since / self.interval_s))
            self.water += max(-120.0, min(40.0, target - self.water)) * share
        self._walked_at = now
        gas = self.rng.uniform(25, 60) if fault == "gas" else abs(self.rng.gauss(1.0, 0.8))
        data = {"tilt_deg": round(min(tilt, 180), 2), "displacement_mm": round(disp, 1),
                "water_level_mm": round(max(self.water, 0), 1), "gas_lel_pct": round(min(gas, 100), 2),
                "temperature_c": round(self.rng.gauss(18, 3), 1), "battery_pct": self.battery_pct(fault),
                "signal_dbm": self.signal()}
        return [("telemetry", self.payload(now, **data))]


class BinSensor(FaultySensor):
    kind = "bin-sensor"
    default_interval_s = 600.0
    faults: ClassVar[dict[str, tuple]] = BIN_FAULTS

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        super().__init__(spec, secret, ctx)
        self.fill = self.rng.uniform(3, 40)

    def readings(self, now: datetime) -> list[tuple[str, bytes]]:
        fault = self.step_fault(now)
        if self.silent:
            return []
        out: list[tuple[str, bytes]] = []
        if fault is None and self.fill > 60:  # the sanitation truck came
            self.fill = self.rng.uniform(1, 5)
            out.append(("event", self.payload(now, type="emptied")))
        if fault == "overflow":
            self.fill = self.rng.uniform(85, 100)
        elif fault is None:
            self.fill = min(65.0, self.fill + self.rng.uniform(0.2, 2.5))
        temp = self.rng.uniform(80, 200) if fault == "fire" else self.rng.gauss(20, 4)
        data = {"fill_pct": round(self.fill, 1), "temperature_c": round(temp, 1),
                "tilt_deg": round(abs(self.rng.gauss(1.5, 0.8)), 1), "battery_pct": self.battery_pct(fault),
                "signal_dbm": self.signal()}
        out.append(("telemetry", self.payload(now, **data)))
        return out
