"""A simulated ONVIF camera: SOAP 1.2 over HTTP (aiohttp), WS-Security digest checked, JPEG snapshots.

Answers what the platform's client uses, as a Profile S camera would:

- ``/onvif/device_service``: GetSystemDateAndTime (no auth, as the spec allows),
  GetDeviceInformation, GetCapabilities; GetServices answers ``ActionNotSupported``
  (clients then fall back to GetCapabilities);
- ``/onvif/media_service``: GetProfiles, GetSnapshotUri;
- ``/onvif/events_service``: CreatePullPointSubscription;
- ``/onvif/subscription/<id>``: PullMessages (long poll up to its Timeout), Renew,
  Unsubscribe, SetSynchronizationPoint;
- ``/snapshot.jpg``: the current frame, behind HTTP Digest (RFC 7616, MD5, qop=auth) or Basic.

Every SOAP call but GetSystemDateAndTime must carry a WS-Security UsernameToken whose
PasswordDigest is Base64(SHA-1(nonce + created + password)), created within 5 minutes,
nonce not replayed; otherwise a ``ter:NotAuthorized`` sender fault (HTTP 400, ONVIF Core
§5.11.2.1). Events: ``tns1:VideoSource/MotionAlarm`` when an incident starts (State true,
then false two seconds later) and ``tns1:VideoSource/GlobalSceneChange/ImagingService``
for covered/turned/defocused lenses.

The XML is written here by hand on purpose: this is the device side, and the client
(onvif-zeep-async) parses it against the ONVIF WSDLs, which is the test of its shape.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from aiohttp import web
from lxml import etree

from simulators.camera.scene import Incident, Scene

log = logging.getLogger(__name__)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><s:Body>{body}</s:Body></s:Envelope>'
)
CREATED_SKEW_S = 300.0
SUBSCRIPTION_S = 60.0
MOTION = "tns1:VideoSource/MotionAlarm"
SCENE_CHANGE = "tns1:VideoSource/GlobalSceneChange/ImagingService"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration_s(text: str | None, default: float) -> float:
    """xs:duration such as PT10S, PT1M or PT0.5S (what clients send); the default if absent."""
    if not text:
        return default
    m = re.fullmatch(r"P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", text.strip())
    if not m:
        return default
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


class SoapFault(Exception):
    def __init__(self, subcode: str, reason: str, status: int = 400, code: str = "s:Sender") -> None:
        super().__init__(reason)
        self.subcode, self.reason, self.status, self.code = subcode, reason, status, code

    def xml(self) -> str:
        return ENVELOPE.format(body=(
            f"<s:Fault><s:Code><s:Value>{self.code}</s:Value><s:Subcode><s:Value>{self.subcode}</s:Value>"
            f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">{escape(self.reason)}</s:Text></s:Reason>"
            "</s:Fault>"))


@dataclass(slots=True)
class Subscription:
    id: str
    expires: float
    queue: deque = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class CameraSim:
    """One camera: its identity, credentials, scene and the HTTP server answering for it."""

    name: str
    username: str
    password: str
    scene: Scene
    host: str = "127.0.0.1"
    port: int = 0
    model: str = "CG-SIM-1280"
    requests: int = 0
    auth_failures: int = 0
    motion_events: int = 0
    _subs: dict[str, Subscription] = field(default_factory=dict)
    _nonces: deque = field(default_factory=lambda: deque(maxlen=512))
    _digest_nonces: set = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _watch: asyncio.Task | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- incidents and events --------------------------------------------------------
    def incident(self, kind: str, *, duration_s: float | None = None, **kwargs) -> Incident:
        """Start an incident now; the PullPoint events follow from the scene watcher."""
        return self.scene.add(kind, duration_s=duration_s, **kwargs)

    def publish(self, topic: str, state: bool, source: str = "vs0") -> None:
        now = datetime.now(UTC)
        message = (
            f'<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/'
            f'ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="{_iso(now)}" '
            f'PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" '
            f'Value="{source}"/></tt:Source><tt:Data><tt:SimpleItem Name="State" Value="{str(state).lower()}"/>'
            "</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>")
        if topic == MOTION and state:
            self.motion_events += 1
        for sub in self._subs.values():
            sub.queue.append(message)
            sub.wake.set()

    async def _watch_scene(self) -> None:
        """Turn incident starts and ends into ONVIF events (the camera's own motion/tamper analytics)."""
        seen: set[int] = set()
        ended: set[int] = set()
        while True:
            now = self.scene.clock()
            for incident in list(self.scene.incidents):
                key = id(incident)
                topic = MOTION if incident.kind in ("object_left", "light") else SCENE_CHANGE
                if key not in seen and incident.start <= now:
                    seen.add(key)
                    self.publish(topic, True)
                    if topic == MOTION:
                        asyncio.get_running_loop().call_later(2.0, self.publish, MOTION, False)
                if incident.end is not None and incident.end <= now and key not in ended:
                    ended.add(key)
                    self.publish(topic if topic == SCENE_CHANGE else MOTION, topic != SCENE_CHANGE)
                    if topic == MOTION:
                        asyncio.get_running_loop().call_later(2.0, self.publish, MOTION, False)
            await asyncio.sleep(0.2)

    # -- auth ------------------------------------------------------------------------
    def _check_wsse(self, header: etree._Element | None) -> None:
        token = None if header is None else header.find(".//wsse:UsernameToken", NS)
        if token is None:
            self._refuse("no WS-Security UsernameToken")
        user = token.findtext("wsse:Username", namespaces=NS)
        password = token.find("wsse:Password", NS)
        nonce = token.findtext("wsse:Nonce", namespaces=NS)
        created = token.findtext("wsu:Created", namespaces=NS)
        if user != self.username or password is None or not nonce or not created:
            self._refuse("unknown user or incomplete token")
        if not (password.get("Type") or "").endswith("#PasswordDigest"):
            self._refuse("a PasswordDigest is required")
        try:
            raw_nonce = base64.b64decode(nonce)
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            self._refuse("bad nonce or created time")
        if abs((datetime.now(UTC) - when).total_seconds()) > CREATED_SKEW_S:
            self._refuse("created time outside the allowed skew")
        expected = base64.b64encode(hashlib.sha1(raw_nonce + created.encode() + self.password.encode())
                                    .digest()).decode()
        if not secrets.compare_digest(expected, (password.text or "").strip()):
            self._refuse("wrong password digest")
        if nonce in self._nonces:
            self._refuse("nonce replayed")
        self._nonces.append(nonce)

    def _refuse(self, why: str) -> None:
        self.auth_failures += 1
        log.info("camera %s refused a request: %s", self.name, why)
        raise SoapFault("ter:NotAuthorized", "Sender not Authorized")

    def _check_http_auth(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == self.username and secrets.compare_digest(pw, self.password)
        if not header.startswith("Digest "):
            return False
        parts = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        if parts.get("username") != self.username or parts.get("nonce") not in self._digest_nonces:
            return False
        ha1 = hashlib.md5(f"{self.username}:{self.name}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{request.method}:{parts.get('uri', '')}".encode()).hexdigest()
        if parts.get("qop"):
            data = f"{ha1}:{parts['nonce']}:{parts.get('nc', '')}:{parts.get('cnonce', '')}:{parts['qop']}:{ha2}"
        else:
            data = f"{ha1}:{parts['nonce']}:{ha2}"
        return secrets.compare_digest(hashlib.md5(data.encode()).hexdigest(), parts.get("response", ""))

    # -- HTTP handlers ------------------------------------------------------------------
    async def _soap(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            doc = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            op_el = doc.find("s:Body", NS)[0]
            op = etree.QName(op_el).localname
            if op != "GetSystemDateAndTime":
                self._check_wsse(doc.find("s:Header", NS))
            xml = await self._operation(request.path, op, op_el)
        except SoapFault as fault:
            return web.Response(status=fault.status, body=fault.xml().encode(),
                                content_type="application/soap+xml", charset="utf-8")
        except (etree.XMLSyntaxError, IndexError, TypeError) as exc:
            fault = SoapFault("ter:InvalidArgVal", f"malformed request: {exc}")
            return web.Response(status=400, body=fault.xml().encode(), content_type="application/soap+xml",
                                charset="utf-8")
        return web.Response(body=ENVELOPE.format(body=xml).encode(), content_type="application/soap+xml",
                            charset="utf-8")

    async def _operation(self, path: str, op: str, el: etree._Element) -> str:
        now = datetime.now(UTC)
        answer: str | None = None
        if path == "/onvif/device_service":
            answer = self._device_op(op, now)
        elif path == "/onvif/media_service":
            answer = self._media_op(op)
        elif path == "/onvif/events_service" and op == "CreatePullPointSubscription":
            answer = self._create_pullpoint(el, now)
        elif path.startswith("/onvif/subscription/"):
            answer = await self._subscription_op(path.rsplit("/", 1)[-1], op, el, now)
        if answer is None:
            raise SoapFault("ter:ActionNotSupported", f"{op} is not supported at {path}", code="s:Receiver")
        return answer

    def _device_op(self, op: str, now: datetime) -> str | None:
        base = self.base_url
        answers = {
            "GetSystemDateAndTime": lambda: (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
                "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time>"
                f"<tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}"
                f"</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}"
                f"</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                "</tds:GetSystemDateAndTimeResponse>"),
            "GetDeviceInformation": lambda: (
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>civicgrid</tds:Manufacturer>"
                f"<tds:Model>{self.model}</tds:Model><tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{escape(self.name)}</tds:SerialNumber><tds:HardwareId>sim"
                "</tds:HardwareId></tds:GetDeviceInformationResponse>"),
            "GetCapabilities": lambda: (
                "<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device>"
                f"<tt:Events><tt:XAddr>{base}/onvif/events_service</tt:XAddr>"
                "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
                "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
                "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
                "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
                f"<tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>"
                "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>false</tt:RTP_TCP>"
                "<tt:RTP_RTSP_TCP>false</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>"),
        }
        return answers[op]() if op in answers else None

    def _media_op(self, op: str) -> str | None:
        if op == "GetProfiles":
            w, h = self.scene.width, self.scene.height
            return ('<trt:GetProfilesResponse><trt:Profiles token="profile_main" fixed="true">'
                    "<tt:Name>main</tt:Name>"
                    '<tt:VideoEncoderConfiguration token="enc_main"><tt:Name>enc_main</tt:Name>'
                    "<tt:UseCount>1</tt:UseCount><tt:Encoding>JPEG</tt:Encoding><tt:Resolution>"
                    f"<tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>"
                    f"<tt:Quality>{self.scene.quality}</tt:Quality></tt:VideoEncoderConfiguration>"
                    "</trt:Profiles></trt:GetProfilesResponse>")
        if op == "GetSnapshotUri":
            return (f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{self.base_url}/snapshot.jpg</tt:Uri>"
                    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
                    "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
                    "</trt:GetSnapshotUriResponse>")
        return None

    def _create_pullpoint(self, el: etree._Element, now: datetime) -> str:
        ttl = _duration_s(el.findtext("{*}InitialTerminationTime"), SUBSCRIPTION_S)
        sub = Subscription(secrets.token_hex(6), time.monotonic() + ttl)
        self._subs[sub.id] = sub
        return ("<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>"
                f"{self.base_url}/onvif/subscription/{sub.id}</wsa:Address></tev:SubscriptionReference>"
                f"<wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime><wsnt:TerminationTime>"
                f"{_iso(now + timedelta(seconds=ttl))}</wsnt:TerminationTime>"
                "</tev:CreatePullPointSubscriptionResponse>")

    async def _subscription_op(self, sub_id: str, op: str, el: etree._Element, now: datetime) -> str:
        sub = self._subs.get(sub_id)
        if sub is None or sub.expires < time.monotonic():
            self._subs.pop(sub_id, None)
            raise SoapFault("ter:InvalidArgVal", f"no subscription {sub_id}", code="s:Sender")
        if op == "PullMessages":
            timeout = min(_duration_s(el.findtext("{*}Timeout"), 5.0), 30.0)
            limit = int(el.findtext("{*}MessageLimit") or 100)
            if not sub.queue:
                sub.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.wake.wait(), timeout)
            messages = [sub.queue.popleft() for _ in range(min(limit, len(sub.queue)))]
            now = datetime.now(UTC)
            return (f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(now)}</tev:CurrentTime>"
                    f"<tev:TerminationTime>{_iso(now + timedelta(seconds=sub.expires - time.monotonic()))}"
                    f"</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>")
        if op == "Renew":
            ttl = _duration_s(el.findtext("{*}TerminationTime"), SUBSCRIPTION_S)
            sub.expires = time.monotonic() + ttl
            return (f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(now + timedelta(seconds=ttl))}"
                    f"</wsnt:TerminationTime><wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime></wsnt:RenewResponse>")
        if op == "Unsubscribe":
            self._subs.pop(sub_id, None)
            return "<wsnt:UnsubscribeResponse/>"
        if op == "SetSynchronizationPoint":
            return "<tev:SetSynchronizationPointResponse/>"
        raise SoapFault("ter:ActionNotSupported", f"{op} is not supported on a subscription", code="s:Receiver")

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._check_http_auth(request):
            if request.headers.get("Authorization"):
                self.auth_failures += 1
            nonce = secrets.token_hex(16)
            self._digest_nonces.add(nonce)
            return web.Response(status=401, headers={
                "WWW-Authenticate": f'Digest realm="{self.name}", qop="auth", algorithm=MD5, nonce="{nonce}"'})
        try:
            jpeg = await asyncio.to_thread(self.scene.jpeg)
        except RuntimeError:  # the event loop is shutting down
            return web.Response(status=503)
        return web.Response(body=jpeg, content_type="image/jpeg")

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/onvif/{service:.*}", self._soap)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # the port the OS chose
        self._watch = asyncio.create_task(self._watch_scene(), name=f"scene-{self.name}")
        log.info("camera simulator %s on %s", self.name, self.base_url)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self._runner is not None:
            await self._runner.cleanup()


class CameraFleet:
    """Several simulated cameras in one process and event loop, each on its own port."""

    def __init__(self, cameras: list[CameraSim]) -> None:
        self.cameras = cameras

    def __getitem__(self, name: str) -> CameraSim:
        return next(c for c in self.cameras if c.name == name)

    async def start(self) -> None:
        """Start every camera; one whose port is taken is left out (logged), the others run."""
        started = []
        for camera in self.cameras:
            try:
                await camera.start()
                started.append(camera)
            except OSError as exc:
                log.error("camera simulator %s cannot listen on %s:%s: %s", camera.name, camera.host, camera.port, exc)
        self.cameras = started

    async def stop(self) -> None:
        for camera in self.cameras:
            await camera.stop()
