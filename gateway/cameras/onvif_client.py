"""The ONVIF client of one camera, on onvif-zeep-async (WSDLs, WS-Security digest, PullPoint manager).

What the poller needs and nothing more: connect (device information, capabilities,
media profiles, snapshot URI), fetch a snapshot (HTTP Digest, as cameras expect), and
pull events from a PullPoint subscription (created, renewed by the library's manager,
unsubscribed on close).  Library and transport errors are translated once, here, into
`CameraAuthError` (wrong credentials: back off long, do not hammer the camera),
`SnapshotTooLarge` and `CameraUnreachable` (anything else: back off and reconnect).

The snapshot is fetched here with aiohttp rather than the library's `get_snapshot`, which
reads the whole answer into memory: the camera decides how much it sends, so the body is read
in chunks up to `max_snapshot_bytes`, and redirects (to anywhere) are not followed.  A poller
passes one `snapshot_pool` (a ClientSession) to all its cameras, so a thousand cameras share
one connection pool and DNS cache; each camera keeps its own HTTP Digest state (nonce and
counter, sent pre-emptively after the first challenge) as a per-request middleware.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import zeep.exceptions
from aiohttp import DigestAuthMiddleware
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFAuthError, ONVIFError
from onvif.util import is_auth_error

log = logging.getLogger(__name__)

MOTION_TOPICS = ("MotionAlarm", "CellMotionDetector", "Motion")
TAMPER_TOPICS = ("GlobalSceneChange", "Tamper")


class CameraError(Exception):
    """A camera could not be used; `reason` is a short stable code for health records."""

    reason = "error"


class CameraAuthError(CameraError):
    reason = "unauthorized"


class CameraUnreachable(CameraError):
    reason = "unreachable"


class SnapshotTooLarge(CameraError):
    reason = "snapshot-too-large"


@dataclass(frozen=True, slots=True)
class CameraInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    profile_token: str
    width: int | None
    height: int | None
    snapshot_uri: str | None
    pullpoint: bool


@dataclass(frozen=True, slots=True)
class OnvifEvent:
    topic: str
    state: bool | None
    at: dt.datetime | None

    @property
    def is_motion(self) -> bool:
        return any(m in self.topic for m in MOTION_TOPICS)

    @property
    def is_tamper(self) -> bool:
        return any(m in self.topic for m in TAMPER_TOPICS)


def _translate(exc: BaseException, what: str) -> CameraError:
    if isinstance(exc, ONVIFAuthError) or (isinstance(exc, zeep.exceptions.Fault) and is_auth_error(exc)):
        return CameraAuthError(f"{what}: credentials refused")
    return CameraUnreachable(f"{what}: {type(exc).__name__}: {exc}"[:300])


def _own_host(uri: str | None, host: str) -> str | None:
    """The camera's snapshot URI if it points at the camera itself, else None (and a warning): the camera
    names the URI, and a hostile or misconfigured one could make the poller fetch any address it can reach."""
    if uri is None:
        return None
    if urlsplit(uri).hostname != host:
        log.warning("camera %s offers a snapshot URI on another host (%s): not fetched", host, uri[:200])
        return None
    return uri


_ERRORS = (ONVIFError, zeep.exceptions.Error, aiohttp.ClientError, asyncio.TimeoutError, OSError)


SNAPSHOT_CHUNK = 64 * 1024


def snapshot_pool() -> aiohttp.ClientSession:
    """The HTTP session a poller's cameras share for snapshots: one keep-alive connection a camera (a
    snapshot every 10 s reuses it), no cap on their number (each is to a different camera), and no
    cookies (a camera's session cookie must not reach another camera)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=2, keepalive_timeout=30.0)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class OnvifClient:
    def __init__(self, host: str, port: int, username: str, password: str, *, timeout_s: float = 10.0,
                 max_snapshot_bytes: int = 8_000_000, http: aiohttp.ClientSession | None = None) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.max_snapshot_bytes = max_snapshot_bytes
        self._digest = (DigestAuthMiddleware(username, password),) if username and password else ()
        self._http = http  # shared (a poller's `snapshot_pool`), else opened at the first snapshot
        self._own_http = http is None
        # no_cache: the library's WSDL cache is a SQLite file in the user's home; the WSDLs ship with it.
        self._camera = ONVIFCamera(host, port, username, password, no_cache=True)
        self._manager = None
        self._pullpoint = None
        self.subscription_lost = False
        self.info: CameraInfo | None = None

    async def connect(self) -> CameraInfo:
        """GetCapabilities (service addresses), GetDeviceInformation, GetProfiles, GetSnapshotUri."""
        try:
            async with asyncio.timeout(self.timeout_s * 3):
                await self._camera.update_xaddrs()
                capabilities = await self._camera.get_capabilities() or {}
                device = await self._camera.create_devicemgmt_service()
                about = await device.GetDeviceInformation()
                media = await self._camera.create_media_service()
                profiles = await media.GetProfiles()
                if not profiles:
                    raise CameraUnreachable("the camera has no media profile")
                profile = profiles[0]
                encoder = getattr(profile, "VideoEncoderConfiguration", None)
                resolution = getattr(encoder, "Resolution", None)
                uri = _own_host(await self._camera.get_snapshot_uri(profile.token), self.host)
        except CameraError:
            raise
        except _ERRORS as exc:
            raise _translate(exc, "connect") from exc
        events = (capabilities.get("Events") or {}) if isinstance(capabilities, dict) else {}
        self.info = CameraInfo(about.Manufacturer, about.Model, about.FirmwareVersion, about.SerialNumber,
                               profile.token, getattr(resolution, "Width", None), getattr(resolution, "Height", None),
                               uri, bool(events.get("WSPullPointSupport")))
        return self.info

    async def snapshot(self) -> bytes:
        """The current JPEG of the first profile (HTTP Digest with the camera's credentials)."""
        assert self.info is not None, "connect first"
        if self.info.snapshot_uri is None:
            raise CameraUnreachable("snapshot: the camera offers no snapshot URI on its own host")
        try:
            async with asyncio.timeout(self.timeout_s):
                jpeg = await self._fetch(self.info.snapshot_uri)
        except CameraError:
            raise
        except _ERRORS as exc:
            raise _translate(exc, "snapshot") from exc
        if not jpeg:
            raise CameraUnreachable("snapshot: empty answer")
        return jpeg

    async def _fetch(self, uri: str) -> bytes:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        cap = self.max_snapshot_bytes
        async with self._http.get(uri, allow_redirects=False, middlewares=self._digest) as response:
            if response.status == 401:
                raise CameraAuthError("snapshot: credentials refused")
            if response.status != 200:
                raise CameraUnreachable(f"snapshot: HTTP {response.status}")
            if (response.content_length or 0) > cap:
                raise SnapshotTooLarge(f"snapshot: {response.content_length} bytes announced, over {cap}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(SNAPSHOT_CHUNK):
                body += chunk
                if len(body) > cap:
                    raise SnapshotTooLarge(f"snapshot: more than {cap} bytes sent")
        return bytes(body)

    async def subscribe(self, renew_every: dt.timedelta = dt.timedelta(seconds=60)) -> None:
        """CreatePullPointSubscription; the library's manager renews it before it expires."""
        def lost() -> None:
            self.subscription_lost = True

        try:
            async with asyncio.timeout(self.timeout_s):
                self._manager = await self._camera.create_pullpoint_manager(renew_every, lost)
        except _ERRORS as exc:
            raise _translate(exc, "subscribe") from exc
        self._pullpoint = self._manager.get_service()
        self.subscription_lost = False

    async def pull(self, timeout_s: float, limit: int = 100) -> list[OnvifEvent]:
        """PullMessages: waits up to `timeout_s` on the camera for events."""
        assert self._pullpoint is not None, "subscribe first"
        try:
            async with asyncio.timeout(timeout_s + self.timeout_s):
                answer = await self._pullpoint.PullMessages({"MessageLimit": limit,
                                                            "Timeout": dt.timedelta(seconds=timeout_s)})
        except _ERRORS as exc:
            raise _translate(exc, "pull") from exc
        return [parse_notification(m) for m in (answer.NotificationMessage or [])]

    async def close(self) -> None:
        """Unsubscribe (best effort) and close the HTTP sessions."""
        if self._manager is not None:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._manager.shutdown()
            except (*_ERRORS, AssertionError) as exc:
                log.debug("camera %s:%s: unsubscribe failed: %s", self.host, self.port, exc)
            self._manager = None
        if self._http is not None and self._own_http:
            await self._http.close()
            self._http = None
        await self._camera.close()


def parse_notification(message: Any) -> OnvifEvent:
    """Topic, State and UtcTime of a wsnt:NotificationMessage as zeep parsed it."""
    topic = getattr(getattr(message, "Topic", None), "_value_1", None) or ""
    body = getattr(getattr(message, "Message", None), "_value_1", None)
    state: bool | None = None
    at = None
    if body is not None:
        at = getattr(body, "UtcTime", None)
        data = getattr(body, "Data", None)
        for item in getattr(data, "SimpleItem", None) or []:
            if item.Name in ("State", "IsMotion", "IsTamper"):
                state = str(item.Value).lower() == "true"
    return OnvifEvent(str(topic), state, at)
