"""The city's cameras: placing them when a city is generated, and running them as one fleet with incidents.

`city_cameras` picks street-light poles (C0118) of a generated city to mount cameras on
(the county town has 21), each with an ONVIF port, a scene seed and two regions of
interest with the event code each watches for.  `CameraFleet` runs them in one process;
`ScriptedIncidents` starts incidents at random (an object left in a region for a while, a
covered lens, a turned camera), seeded, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from simulators.camera.onvif_server import CameraFleet, CameraSim
from simulators.camera.scene import Scene

WIDTH, HEIGHT = 1280, 720
# (id, name, event code, polygon as fractions of the image): a shop front's pavement and the kerb lane.
ROI_TEMPLATES = [
    ("stall", "店外经营区", "E0504", ((0.14, 0.60), (0.44, 0.60), (0.44, 0.78), (0.14, 0.78))),
    ("vending", "游商摊点区", "E0501", ((0.56, 0.60), (0.86, 0.60), (0.86, 0.78), (0.56, 0.78))),
    ("parking", "禁停区", "E0505", ((0.05, 0.82), (0.60, 0.82), (0.60, 0.98), (0.05, 0.98))),
]
INCIDENT_KINDS = (("object_left", 6.0), ("covered", 1.0), ("turned", 1.0), ("defocus", 0.5))


def city_cameras(seed: int, components: list[dict[str, Any]], count: int, device_prefix: str, port_base: int,
                 dwell_s: float = 120.0, host: str = "127.0.0.1") -> list[dict[str, Any]]:
    """Camera device entries for city.json, mounted on street lights (or any component if there are none)."""
    rng = random.Random(seed * 7919 + 21)
    poles = [c for c in components if c["category_code"] == "C0118"] or components
    chosen = rng.sample(poles, min(count, len(poles))) if poles else []
    cameras = []
    for n, pole in enumerate(chosen):
        templates = rng.sample(ROI_TEMPLATES, 2)
        rois = [{"id": rid, "name": name, "event_code": code, "dwell_s": dwell_s,
                 "polygon": [[round(x * WIDTH), round(y * HEIGHT)] for x, y in poly]}
                for rid, name, code, poly in templates]
        cameras.append({"id": f"{device_prefix}-cam-{n + 1:03d}", "kind": "camera", "name": f"路灯杆摄像机 {n + 1}",
                        "component_code": pole["code"], "grid_cell_code": pole["grid_cell_code"],
                        "lon": pole["lon"], "lat": pole["lat"], "onvif_host": host, "onvif_port": port_base + n,
                        "username": "admin", "image": [WIDTH, HEIGHT], "scene_seed": seed * 1000 + n, "rois": rois})
    return cameras


def fleet_from_city(city: dict[str, Any], secrets: dict[str, str]) -> CameraFleet | None:
    """A simulator per camera device of the city whose secret is known (the ONVIF password); None if none."""
    cams = [CameraSim(d["id"], d.get("username", "admin"), secrets[d["id"]],
                      Scene(seed=d.get("scene_seed", 0), width=d.get("image", [WIDTH, HEIGHT])[0],
                            height=d.get("image", [WIDTH, HEIGHT])[1], car_every_s=45.0),
                      host=d.get("onvif_host", "127.0.0.1"), port=d["onvif_port"])
            for d in city.get("devices", []) if d["kind"] == "camera" and d["id"] in secrets]
    return CameraFleet(cams) if cams else None


class ScriptedIncidents:
    """Random incidents on a fleet: on average one per camera every `every_s` wall seconds."""

    def __init__(self, fleet: CameraFleet, city: dict[str, Any], *, seed: int = 0, every_s: float = 900.0) -> None:
        self.fleet, self.every_s = fleet, every_s
        self.rng = random.Random(seed)
        self.rois = {d["id"]: d.get("rois", []) for d in city.get("devices", []) if d["kind"] == "camera"}
        self.started: list[tuple[str, str]] = []

    async def run(self, stop: asyncio.Event) -> None:
        cameras = self.fleet.cameras
        while not stop.is_set() and cameras:
            try:
                await asyncio.wait_for(stop.wait(), self.rng.expovariate(len(cameras) / self.every_s))
                return
            except TimeoutError:
                pass
            camera = self.rng.choice(cameras)
            kinds, weights = zip(*INCIDENT_KINDS, strict=True)
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "object_left":
                rois = self.rois.get(camera.name) or [{"polygon": camera.scene.stall_roi(), "dwell_s": 120}]
                roi = self.rng.choice(rois)
                camera.incident(kind, duration_s=roi["dwell_s"] * self.rng.uniform(0.5, 3.0), roi=roi["polygon"])
            else:
                camera.incident(kind, duration_s=self.rng.uniform(30, 180))
            self.started.append((camera.name, kind))
