"""Which rules judge a case: the current version for a new case, the case's own version for every later step.

Each process (API, stream worker) holds one `RuleBook`. It asks the database for the latest version number on
every new case (one index lookup), so a pack loaded by `civicgrid rules load` or the admin API is used for the
next case in every process without a restart. A case keeps the version it was filed under (``cases.rules_version``):
its rework deadline, resumed deadline, postponement, light and overdue escalation are computed by that version's
limits, calendar and catalogue, so its limits never change under it. Who may act on it is today's question, so the
permission table and the lifecycle policy are the current version's. Rules are built once per version and kept in
a small cache.

At its first use the book makes sure a version exists — the shipped defaults as version 1 — and, when the process
was started with `rules_dir`, stores that pack as a new version if it differs from the latest. The pack is read
and checked when the book is made, so a process with an invalid pack refuses to start.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import psycopg

from civicgrid.cases import repository
from civicgrid.cases.pack import SHIPPED, RulePack, build_rules, load_pack, shipped_pack
from civicgrid.cases.rules import Rules
from civicgrid.store import rule_packs

log = logging.getLogger(__name__)


def store_pack(conn: psycopg.Connection, pack: RulePack | None, loaded_by: str) -> tuple[int, bool]:
    """Store `pack` as the new current version unless it equals the latest; (version, created). The shipped
    defaults are stored first as version 1 when nothing is, so the cases filed before any pack keep them.
    `pack` None: only that."""
    shipped = shipped_pack()
    version, created = rule_packs.store(conn, shipped.content, shipped.digest, SHIPPED, loaded_by, only_if_empty=True)
    if pack is not None:
        version, created = rule_packs.store(conn, pack.content, pack.digest, pack.source, loaded_by)
    return version, created


class RuleBook:
    """The rules of every version this process has needed, and which version is current."""

    def __init__(self, rules_dir: Path | None = None, *, loaded_by: str = "startup", cache_size: int = 8) -> None:
        self._pack: RulePack | None = load_pack(rules_dir) if rules_dir is not None else None  # InvalidPack
        self._loaded_by = loaded_by
        self._cache_size = cache_size
        self._cache: OrderedDict[int, Rules] = OrderedDict()
        self._known: Rules | None = None
        self._started = False
        self._lock = threading.Lock()

    def start(self, conn: psycopg.Connection) -> int:
        """Store the shipped defaults as version 1 if nothing is stored, then this process's pack if it differs
        from the latest; return the current version. Runs once per process, at the first use if not before."""
        version, created = store_pack(conn, self._pack, self._loaded_by)
        if self._pack is not None:
            log.info("rules: %s %s as version %d", self._pack.source, "stored" if created else "is already", version)
        self._started = True
        return version

    def current(self, conn: psycopg.Connection) -> tuple[int, Rules]:
        """The latest stored version and its rules: what a new case is filed under."""
        if not self._started:
            self.start(conn)
        # In a transaction of its own: on a connection outside autocommit (the stream worker's pool) a bare read
        # would leave one open, and the intent's transaction after it would only be a savepoint.
        with conn.transaction():
            version = rule_packs.latest_version(conn)
            if version is None:  # the table was emptied under a running process; start again
                version = self.start(conn)
            rules = self.rules(conn, version)
        self._known = rules
        return version, rules

    def rules(self, conn: psycopg.Connection, version: int | None) -> Rules:
        """The rules of one version (None: a case filed before versions existed, judged by version 1, the shipped
        defaults as first stored; before anything is stored, by this code's shipped defaults)."""
        if version is None:
            try:
                return self.rules(conn, 1)  # cached after its first read, as any version
            except LookupError:
                return shipped_pack().rules
        with self._lock:
            if version in self._cache:
                self._cache.move_to_end(version)
                return self._cache[version]
        stored = rule_packs.get(conn, version)
        if stored is None:
            raise LookupError(f"rules version {version} is not stored")
        rules = build_rules(stored.content)  # stored packs were checked when they were loaded
        with self._lock:
            self._cache[version] = rules
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rules

    def for_case(self, conn: psycopg.Connection, case_id: str) -> Rules:
        """The rules a step of this case is judged by: the time rules of the version it was filed under, with
        the current permissions and policy. A case that does not exist gets the current rules (its intent then
        answers not found in its own words)."""
        current_version, current = self.current(conn)
        with conn.transaction():
            try:
                version = repository.rules_version(conn, case_id)
            except repository.CaseNotFound:
                return current
            if version == current_version:
                return current
            own = self.rules(conn, version)
        return dataclasses.replace(own, permissions=current.permissions, policy=current.policy)

    @property
    def known(self) -> Rules:
        """The current rules as this process last saw them (the shipped defaults before it looked), for what has
        no connection at hand: the category list of Open311, a camera's region codes."""
        return self._known if self._known is not None else shipped_pack().rules
