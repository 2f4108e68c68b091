"""The town's video network, in small: a couple of GB/T 28181 IP cameras registering with the gb28181-gateway.

Each camera (simulators/gb28181_device.py, written apart from the gateway) registers through the Digest
challenge, answers the platform's Catalog query with its one channel (at a crossing of the generated city, named
in Chinese), sends a keepalive every `keepalive_s`, registers again before its registration expires, and now and
then raises a motion-detection alarm (报警方法 5 视频报警, 类型 2 运动目标检测) on its channel, which the gateway
takes to ``cg.events``. A camera whose registration or keepalive fails connects again with back-off.

``civicgrid simulate-gb28181 --city DIR`` provisions the cameras (kind gb28181-camera, 20-digit SIP ids
``34020000001320000xxx``) and runs them until Ctrl-C; ``civicgrid run`` starts it beside
``civicgrid gb28181-gateway``. The SIP password is what ``civicgrid devices gb28181-password`` prints (asked of
that command, since simulators import nothing of gateway/).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import shapely
import typer

from civicgrid.settings import Settings
from simulators.gb28181_device import Device, DeviceError, SimChannel

log = logging.getLogger(__name__)

KIND = "gb28181-camera"
MOTION_METHOD, MOTION_TYPE = 5, 2  # 视频报警 / 运动目标检测报警 (GB/T 28181-2016 Annex A)


@dataclass
class Camera:
    device: Device
    registrations: int = 0
    keepalives: int = 0
    alarms: int = 0


def camera_id(n: int) -> str:
    return f"3402000000132{n:07d}"  # domain (10) + type 132 IPC + serial: 20 digits


def channel_id(n: int) -> str:
    return f"3402000000131{n:07d}"  # type 131: a camera channel


def plan_cameras(city: Path, count: int, seed: int) -> list[tuple[str, SimChannel]]:
    """(device id, its channel at a crossing of two main streets, or a street's midpoint) for each camera."""
    rng = random.Random(seed)
    streets = orjson.loads((city / "streets.geojson").read_bytes())["features"]
    main = [s for s in streets if s["properties"].get("road_class") in ("main", "secondary")] or streets
    picked = rng.sample(main, min(count, len(main)))
    out = []
    for n, street in enumerate(picked, start=1):
        line = shapely.geometry.shape(street["geometry"])
        point = line.interpolate(0.5, normalized=True)
        name = str(street["properties"].get("name") or f"{n}号路")
        out.append((camera_id(n), SimChannel(channel_id(n), f"{name}监控点", round(point.x, 6), round(point.y, 6))))
    return out


def provision(settings: Settings, ids: list[str]) -> dict[str, str]:
    """Register the cameras (a second run gives them new secrets) and return each one's SIP password."""
    from civicgrid.broker.provisioning import DeviceSpec, upsert_linked_devices

    upsert_linked_devices(settings, [DeviceSpec(i, KIND) for i in ids], broker=None)
    passwords = {}
    for device_id in ids:
        done = subprocess.run([sys.executable, "-m", "civicgrid.cli", "devices", "gb28181-password", device_id],
                              capture_output=True, text=True, check=True, timeout=60)
        passwords[device_id] = done.stdout.strip()
    return passwords


async def run_camera(camera: Camera, host: str, port: int, keepalive_s: float, alarm_every_s: float,
                     stop: asyncio.Event, rng: random.Random) -> None:
    device, backoff = camera.device, 1.0
    while not stop.is_set():
        try:
            await device.connect(host, port)
            await device.register(expires=3600)
            camera.registrations += 1
            backoff, registered_for, next_alarm = 1.0, 0.0, rng.uniform(0.2, 1.0) * alarm_every_s
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), keepalive_s)
                if stop.is_set():
                    break
                registered_for += keepalive_s
                next_alarm -= keepalive_s
                if registered_for >= 3000:  # before the hour's registration expires
                    await device.register(expires=3600)
                    registered_for = 0.0
                if await device.keepalive() != 200:
                    raise DeviceError("keepalive refused")
                camera.keepalives += 1
                if next_alarm <= 0 and device.channels:
                    channel = device.channels[0]
                    position = (channel.lon, channel.lat) if channel.lon is not None and channel.lat is not None \
                        else None
                    await device.alarm(channel.channel_id, MOTION_METHOD, MOTION_TYPE, priority=3,
                                       description="运动目标检测", position=position)
                    camera.alarms += 1
                    next_alarm = rng.uniform(0.5, 1.5) * alarm_every_s
            with contextlib.suppress(DeviceError, TimeoutError, OSError):
                await device.unregister()
        except (OSError, TimeoutError, DeviceError) as exc:
            log.warning("camera %s: %s; again in %.0f s", device.device_id, exc, backoff)
        finally:
            with contextlib.suppress(Exception):
                await device.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, 60.0)


async def run_network(cameras: list[Camera], host: str, port: int, keepalive_s: float, alarm_every_s: float,
                      duration_s: float, seed: int) -> dict[str, Any]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_camera(c, host, port, keepalive_s, alarm_every_s, stop,
                                            random.Random(seed * 1000 + i)))
             for i, c in enumerate(cameras)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration_s)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"cameras": len(cameras), "registrations": sum(c.registrations for c in cameras),
            "keepalives": sum(c.keepalives for c in cameras), "alarms": sum(c.alarms for c in cameras)}


def simulate_gb28181(
    city: Annotated[Path, typer.Option(help="A generated city directory (streets.geojson).", exists=True,
                                       file_okay=False)],
    cameras: Annotated[int, typer.Option(min=1, max=999, help="IP cameras.")] = 2,
    keepalive_s: Annotated[float, typer.Option(help="Seconds between keepalives (real time).")] = 60.0,
    alarm_every_s: Annotated[float, typer.Option(help="Mean seconds between a camera's motion alarms.")] = 1800.0,
    duration_s: Annotated[float, typer.Option(help="Wall seconds to run.")] = 604800.0,
    seed: Annotated[int, typer.Option()] = 1,
    transport: Annotated[str, typer.Option(help="UDP or TCP.")] = "UDP",
    host: Annotated[str, typer.Option(help="The GB/T 28181 gateway.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: gb28181.listen_port.")] = None,
) -> None:
    """Run the town's GB/T 28181 cameras against the gb28181-gateway: registration, catalogue, keepalives and
    now and then a motion alarm (docs/gb28181.md, docs/simulators.md)."""
    from civicgrid import command_settings

    settings = command_settings.current()  # what the main `civicgrid` callback loaded (its --config)
    if transport.upper() not in ("UDP", "TCP"):
        raise typer.BadParameter("UDP or TCP", param_hint="--transport")
    plan = plan_cameras(city, cameras, seed)
    passwords = provision(settings, [device_id for device_id, _ in plan])
    g = settings.gb28181
    network = [Camera(Device(device_id, passwords[device_id], server_id=g.server_id, domain=g.domain,
                             transport=transport.upper(), channels=[channel]))
               for device_id, channel in plan]
    port = port or g.listen_port
    print(f"{len(network)} cameras to {host}:{port} over {transport.upper()}: "
          + ", ".join(f"{c.device.device_id} ({c.device.channels[0].name})" for c in network), flush=True)
    result = asyncio.run(run_network(network, host, port, keepalive_s, alarm_every_s, duration_s, seed))
    print(orjson.dumps(result).decode())
