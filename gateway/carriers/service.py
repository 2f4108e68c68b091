"""The carrier gateway process (``civicgrid carrier-gateway``): the platforms' HTTP pushes into Kafka.

Routes: ``POST /ctwing?token=…`` (CTWing/AEP subscription push), ``GET /onenet`` (OneNET's URL verification:
answer ``msg`` when ``signature`` checks), ``POST /onenet`` (OneNET push), ``/healthz``, ``/metrics``. Beside
them, a thread sends carrier-bound devices' commands through the platforms' APIs (gateway/carriers/downlink.py).
A push is answered 200 only once Kafka acknowledged every record it became (telemetry, status, or a dead letter
with its reason); 401 when its token or signature is wrong (nothing reaches Kafka: an outsider cannot fill the
dead-letter topic), 413 past `max_body_bytes`, 503 when Kafka or the registry did not answer in time (the
platform pushes again; dedup drops what got through). The gateway reads the registry and writes only to Kafka
(and, for commands, to the platforms' APIs).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from confluent_kafka import KafkaError, Producer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from civicgrid.bus import clients
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store.carrier_devices import Platform
from gateway.carriers.bindings import Bindings
from gateway.carriers.downlink import Downlink
from gateway.carriers.errors import CarrierError
from gateway.carriers.messages import CarrierMessage, onenet_envelope, parse_ctwing, parse_onenet
from gateway.carriers.signatures import onenet_valid, token_valid
from gateway.carriers.translate import CarrierIngest
from gateway.ingest import Ingestor, Output
from gateway.registry import DeviceRegistry

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """Kafka or the registry did not answer: 503, the platform pushes again."""


class CarrierGateway:
    def __init__(self, settings: Settings) -> None:
        c = settings.carriers
        if c.ctwing_token is None and c.onenet_token is None:
            raise ValueError("set carriers.ctwing_token or carriers.onenet_token (docs/carriers.md)")
        for name, secret in (("ctwing_token", c.ctwing_token), ("onenet_token", c.onenet_token)):
            if secret is not None and len(secret.get_secret_value()) < 16:
                raise ValueError(f"carriers.{name} is shorter than 16 characters")
        self.settings = settings
        self.registry = DeviceRegistry(settings.db, settings.gateway.registry_refresh_s)
        self.bindings = Bindings(settings.db, c.binding_cache_s)
        self.producer = Producer(clients.librdkafka(settings.kafka, {
            **clients.IDEMPOTENT, "linger.ms": 5,
            "message.timeout.ms": int(c.kafka_timeout_s * 1000), "log_level": 3}))
        self.metrics = CollectorRegistry()
        self.downlink = Downlink(settings, self.registry, self.producer, self.metrics)
        profiles = load_profiles(settings.profiles_dir)
        self.ingest = CarrierIngest(Ingestor(profiles, self.registry.get, settings.gateway), profiles,
                                    self.registry.get, self.downlink.response)
        self.pushes = Counter("civicgrid_carrier_pushes", "Pushes answered, by platform and HTTP status",
                              ["platform", "status"], registry=self.metrics)
        self.dead_letters = Counter("civicgrid_carrier_dead_letters", "Dead letters, by platform and reason",
                                    ["platform", "reason"], registry=self.metrics)

    # -- Kafka ---------------------------------------------------------------------------------
    async def produce(self, outputs: list[Output]) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for out in outputs:
            future: asyncio.Future[KafkaError | None] = loop.create_future()

            def delivered(err: KafkaError | None, _msg: Any, future: asyncio.Future[KafkaError | None] = future
                          ) -> None:
                if not future.done():
                    future.set_result(err)

            self.producer.produce(out.topic, out.value, out.key, on_delivery=delivered)
            futures.append(future)
        try:
            errors = await asyncio.wait_for(asyncio.gather(*futures), self.settings.carriers.kafka_timeout_s + 1)
        except TimeoutError:
            raise Unavailable("Kafka did not acknowledge in time") from None
        if any(err is not None for err in errors):
            raise Unavailable(f"Kafka refused: {next(e for e in errors if e is not None)}")

    async def _poll_kafka(self) -> None:
        while True:  # delivery callbacks run here, in the loop's thread
            served = self.producer.poll(0)
            await asyncio.sleep(0.001 if served else 0.005)

    # -- pushes --------------------------------------------------------------------------------
    async def accept(self, platform: Platform, messages: list[CarrierMessage], body: bytes) -> None:
        outputs = []
        for message in messages:
            device_id = await asyncio.to_thread(self.bindings.device_of, platform, message.carrier_device_id)
            out = self.ingest.handle(message, device_id, body)
            if out is not None:
                outputs.append(out)
        await self.produce(outputs)
        for out in outputs:
            if not out.accepted:
                self.dead_letters.labels(platform, out.reason or "").inc()

    async def reject(self, platform: Platform, error: CarrierError, body: bytes) -> None:
        """A signed push whose body is not the platform's shape: one dead letter for the whole request."""
        out = self.ingest.dead_letter(body, f"carrier/{platform}", None, error.reason, error.detail,
                                      datetime.now(UTC))
        await self.produce([out])
        self.dead_letters.labels(platform, error.reason).inc()


async def _body(request: Request, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(gw: CarrierGateway, platform: str, status: int, body: dict[str, Any]) -> Response:
    gw.pushes.labels(platform, str(status)).inc()
    return JSONResponse(body, status_code=status)


async def _handle(gw: CarrierGateway, platform: Platform, request: Request, check: Any) -> Response:
    """Bound the body, authenticate (`check` raises PermissionError), then Kafka, then 200."""
    limit = gw.settings.carriers.max_body_bytes
    body = await _body(request, limit)
    if body is None:
        return _answer(gw, platform, 413, {"error": f"body over {limit} bytes"})
    try:
        messages = check(body)
    except PermissionError as exc:
        log.warning("%s push refused from %s: %s", platform, request.client.host if request.client else "?", exc)
        return _answer(gw, platform, 401, {"error": str(exc)})
    try:
        if isinstance(messages, CarrierError):
            await gw.reject(platform, messages, body)
        else:
            await gw.accept(platform, messages, body)
    except (Unavailable, ConnectionError) as exc:
        log.error("%s push not taken: %s", platform, exc)
        return _answer(gw, platform, 503, {"error": "try again"})
    return _answer(gw, platform, 200, {"ok": True})


def create_app(gw: CarrierGateway) -> FastAPI:
    c = gw.settings.carriers

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(gw.registry.start)
        poller = asyncio.create_task(gw._poll_kafka())
        stop = threading.Event()
        commands = threading.Thread(target=gw.downlink.run, args=(stop,), name="carrier-commands", daemon=True)
        commands.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(commands.join, 10)
            await asyncio.to_thread(gw.producer.flush, 5)
            poller.cancel()
            gw.registry.stop()
            gw.bindings.close()

    app = FastAPI(title="civicgrid carrier gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.post("/ctwing")
    async def ctwing(request: Request) -> Response:
        if c.ctwing_token is None:
            return _answer(gw, "ctwing", 404, {"error": "CTWing is not configured"})
        token = c.ctwing_token.get_secret_value()

        def check(body: bytes) -> list[CarrierMessage] | CarrierError:
            if not token_valid(token, request.query_params.get("token")):
                raise PermissionError("wrong or missing token")
            try:
                return [parse_ctwing(body)]
            except CarrierError as exc:
                return exc

        return await _handle(gw, "ctwing", request, check)

    @app.get("/onenet")
    async def onenet_verify(msg: str = "", nonce: str = "", signature: str = "") -> Response:
        if c.onenet_token is None or not onenet_valid(c.onenet_token.get_secret_value(), nonce, msg, signature):
            return _answer(gw, "onenet", 401, {"error": "signature does not match"})
        return PlainTextResponse(msg)

    @app.post("/onenet")
    async def onenet(request: Request) -> Response:
        if c.onenet_token is None:
            return _answer(gw, "onenet", 404, {"error": "OneNET is not configured"})
        token = c.onenet_token.get_secret_value()

        def check(body: bytes) -> list[CarrierMessage] | CarrierError:
            try:
                signed, nonce, signature, msg = onenet_envelope(body)
            except CarrierError as exc:  # cannot be verified: refused, never dead-lettered
                raise PermissionError(f"unverifiable push: {exc.detail}") from None
            if not onenet_valid(token, nonce, signed, signature):
                raise PermissionError("msg_signature does not match")
            try:
                return parse_onenet(msg)
            except CarrierError as exc:
                return exc

        return await _handle(gw, "onenet", request, check)

    _add_probes(app, gw)
    return app


def _add_probes(app: FastAPI, gw: CarrierGateway) -> None:
    @app.get("/healthz")
    async def healthz() -> Response:
        ok = gw.registry.ready.is_set()
        return JSONResponse({"ok": ok, "devices": len(gw.registry)}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gw.metrics), media_type=CONTENT_TYPE_LATEST)


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's own handling: finish the requests in hand, then stop)."""
    c = settings.carriers
    # access_log off: the CTWing token travels in the query string.
    uvicorn.Server(uvicorn.Config(create_app(CarrierGateway(settings)), host=c.listen_host, port=c.listen_port,
                                  log_level="info", log_config=None, access_log=False)).run()
