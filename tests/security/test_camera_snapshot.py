"""A camera decides how much it sends: the poller reads a snapshot up to a cap and refuses the rest
(announced by Content-Length or streamed without one), and does not follow the camera's redirects."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.cameras.onvif_client import CameraUnreachable, OnvifClient, SnapshotTooLarge
from simulators.camera import CameraSim, Scene

pytestmark = pytest.mark.integration
USER, PASSWORD = "admin", "s3cret-onvif"
CAP = 1_000_000


class HugeScene(Scene):
    def jpeg(self, t: float | None = None) -> bytes:
        return b"\xff\xd8" + bytes(3_000_000)  # 3 MB "JPEG"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_an_announced_oversized_snapshot_is_refused_through_digest_auth() -> None:
    async def body() -> None:
        cam = CameraSim("cam-huge", USER, PASSWORD, HugeScene(seed=1, width=320, height=180))
        await cam.start()
        client = OnvifClient("127.0.0.1", cam.port, USER, PASSWORD, max_snapshot_bytes=CAP)
        try:
            await client.connect()
            with pytest.raises(SnapshotTooLarge):
                await client.snapshot()
        finally:
            await client.close()
            await cam.stop()

    run(body())


async def _serve(handler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def _client_for(port: int, path: str) -> OnvifClient:
    """A client as after connect(), its snapshot URI on the camera's own host (the poller checks that)."""
    from gateway.cameras.onvif_client import CameraInfo

    client = OnvifClient("127.0.0.1", port, USER, PASSWORD, max_snapshot_bytes=CAP)
    client.info = CameraInfo("x", "y", "z", "s", "p", None, None, f"http://127.0.0.1:{port}/{path}", False)
    return client


def test_a_snapshot_streamed_without_length_is_cut_at_the_cap() -> None:
    sent = {"bytes": 0}

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while sent["bytes"] < 50_000_000:
                await response.write(bytes(256 * 1024))
                sent["bytes"] += 256 * 1024
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def body() -> None:
        runner, port = await _serve(endless)
        client = _client_for(port, "snapshot.jpg")
        try:
            with pytest.raises(SnapshotTooLarge):
                await client.snapshot()
        finally:
            await client.close()
            await runner.cleanup()

    run(body())
    assert sent["bytes"] < 20_000_000  # the reader stopped; the camera did not get to send its 50 MB


def test_a_redirect_from_the_camera_is_not_followed() -> None:
    fetched = []

    async def handler(request: web.Request) -> web.StreamResponse:
        fetched.append(request.path)
        if request.path == "/snapshot.jpg":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data")
        return web.Response(body=b"\xff\xd8")

    async def body() -> None:
        runner, port = await _serve(handler)
        client = _client_for(port, "snapshot.jpg")
        try:
            with pytest.raises(CameraUnreachable, match="HTTP 302"):
                await client.snapshot()
        finally:
            await client.close()
            await runner.cleanup()

    run(body())
    assert fetched == ["/snapshot.jpg"]
