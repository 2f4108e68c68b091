"""What every request needs: the service context (settings, pool, Kafka producer, the city's rules)
and a database connection from the pool.

Routes are plain `def` functions run in FastAPI's thread pool: civicgrid/store is sync
psycopg 3 (shared with the streams), and a sync pool keeps one code path for both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
import psycopg
from confluent_kafka import Producer
from fastapi import Depends, Request
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool

from api.feed_hub import FeedHub
from api.login_throttle import LoginThrottle
from civicgrid.broker.sync import BrokerFiles
from civicgrid.bus import clients
from civicgrid.cases import CaseService, Rules
from civicgrid.cases.rulebook import RuleBook
from civicgrid.clock import PlatformClock
from civicgrid.domain.geofence import GridIndex
from civicgrid.domain.time_limits import Limit
from civicgrid.settings import Settings
from civicgrid.store.db import conninfo
from civicgrid.store.grid_cells import cells_signature, load_grid_index


def _json_default(value: Any) -> Any:
    # A pending postponement keeps its `Limit` inside the case snapshot (lifecycle._request);
    # the store serialises snapshots with psycopg's JSON dumper, so teach it Limits.
    if isinstance(value, Limit):
        return value.as_json()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def configure_connection(conn: psycopg.Connection) -> None:
    set_json_dumps(_dumps, context=conn)


@dataclass(frozen=True, slots=True)
class CellLookup:
    index: GridIndex | None

    def lookup(self, lon: float, lat: float) -> str | None:
        return None if self.index is None else self.index.lookup(lon, lat)


@dataclass
class ApiContext:
    """Built once per app from the settings; lives in ``app.state.ctx``."""

    settings: Settings
    pool: ConnectionPool
    # Which rules judge each case (civicgrid/cases/rulebook.py): the current version for a new one, its own after.
    book: RuleBook = field(default_factory=RuleBook)
    # The broker whose account files device registration keeps in step (the CLI passes the local stack's
    # Mosquitto; None: the registry only, for a broker that reads it itself, and for tests).
    broker: BrokerFiles | None = None
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    feed_hub: FeedHub = field(init=False)
    cases: CaseService = field(init=False)
    # The platform clock (civicgrid/clock.py): every case action, deadline and "today" of this API reads it.
    clock: PlatformClock = field(init=False)
    _producer: Producer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _grid: tuple[tuple[Any, ...], GridIndex | None] | None = None

    def __post_init__(self) -> None:
        self.feed_hub = FeedHub(self.pool)
        self.cases = CaseService(self.book)
        self.clock = PlatformClock.from_settings(self.settings.clock)

    def current_rules(self, conn: psycopg.Connection) -> Rules:
        """The current version's rules, asked at each request: an index lookup of the latest version number, each
        version's rules built once and cached (civicgrid/cases/rulebook.py). Every reader of the catalogue (Open311's
        services, the category lists, a category check) and of who may act reads them here, so a pack loaded by the
        admin API or another process is seen by the next request. A case's own: `book.for_case` / `book.rules`."""
        return self.book.current(conn)[1]

    @classmethod
    def create(cls, settings: Settings, *, broker: BrokerFiles | None = None) -> ApiContext:
        pool = ConnectionPool(conninfo(settings.db), min_size=settings.db.pool_min,
                              max_size=max(settings.db.pool_max, 4), configure=configure_connection,
                              open=False, name="civicgrid-api", kwargs={"autocommit": True})
        api = settings.api
        throttle = LoginThrottle(max_failures_per_user=api.login_max_failures_per_user,
                                 max_failures_per_address=api.login_max_failures_per_address,
                                 window_s=api.login_window_s, max_concurrent_hashes=api.login_max_concurrent_hashes)
        return cls(settings=settings, pool=pool, login_throttle=throttle, broker=broker,
                   book=RuleBook(settings.rules_dir, loaded_by="api"))

    @property
    def producer(self) -> Producer:
        """One librdkafka producer for commands (created on first use: the API starts without Kafka)."""
        with self._lock:
            if self._producer is None:
                self._producer = Producer(clients.librdkafka(self.settings.kafka, {"linger.ms": 2, "log_level": 3}))
            return self._producer

    def grid_index(self, conn: psycopg.Connection) -> CellLookup:
        """Point → cell over the cells in the database (as the stream workers build it), rebuilt when the cells
        change (≈ 1 s for 2,500)."""
        key = cells_signature(conn)
        with self._lock:
            if self._grid is None or self._grid[0] != key:
                self._grid = (key, load_grid_index(conn))
            return CellLookup(self._grid[1])

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
        self.pool.close()


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


def get_db(ctx: Annotated[ApiContext, Depends(get_ctx)]) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection; multi-statement changes open `conn.transaction()`."""
    with ctx.pool.connection() as conn:
        yield conn


Ctx = Annotated[ApiContext, Depends(get_ctx)]
# scope="function": the connection goes back to the pool when the route returns, not after the
# response is sent — a streaming response (the SSE feed) must not hold one for its lifetime.
Db = Annotated[psycopg.Connection, Depends(get_db, scope="function")]
