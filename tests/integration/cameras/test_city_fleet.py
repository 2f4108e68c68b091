"""`civicgrid simulate` on a city with cameras starts them: ONVIF on the ports the city gave them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from civicgrid.stack.ephemeral import free_port_run
from gateway.cameras.onvif_client import CameraAuthError, OnvifClient
from simulators.city import generate_city, load_city_file
from simulators.scenario import Scenario

pytestmark = pytest.mark.integration


def test_the_scenario_runs_the_city_cameras(tmp_path: Path) -> None:
    generate_city(2, 0.25, tmp_path, covers=4, bins=2, lights=6, trackers=0, inspectors=1, cameras=2,
                  camera_port_base=free_port_run(2))  # the cameras listen on base + n
    cams = [d for d in load_city_file(tmp_path)["devices"] if d["kind"] == "camera"]
    (tmp_path / "secrets.json").write_bytes(orjson.dumps({c["id"]: f"pw-{c['id']}" for c in cams}))
    scenario = Scenario(tmp_path, "127.0.0.1", 1, kinds={"camera"}, duration_s=30)

    async def serving(port: int, timeout_s: float = 30.0) -> None:
        """The scenario starts its cameras as it starts; on a loaded machine that takes a moment."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def body():
        run = asyncio.create_task(scenario.run(30))
        for cam in cams:
            await serving(cam["onvif_port"])
        serials = []
        try:
            for cam in cams:
                client = OnvifClient("127.0.0.1", cam["onvif_port"], "admin", f"pw-{cam['id']}")
                try:
                    serials.append((await client.connect()).serial)
                    assert len(await client.snapshot()) > 1000
                finally:
                    await client.close()
            intruder = OnvifClient("127.0.0.1", cams[0]["onvif_port"], "admin", "guess")
            try:
                with pytest.raises(CameraAuthError):
                    await intruder.connect()
            finally:
                await intruder.close()
        finally:
            scenario.stop()
            await run
        return serials

    assert asyncio.run(asyncio.wait_for(body(), 60)) == [c["id"] for c in cams]
