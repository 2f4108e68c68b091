"""A problem found by a device or a handheld, as the case service takes it, and the place lookups it needs.

The streams decode Kafka records into `Problem`s (streams/problems.py); the service decides
open-or-merge (intake.py). `Locator` is what the service needs of the streams' cached grid and
component registry (streams/geo.py `GeoResolver`), so the service does not depend on the streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from civicgrid.domain.case_state import Role, Source


@dataclass(frozen=True, slots=True)
class Problem:
    source: Source
    role: Role
    actor: str
    source_record_id: str
    category: str
    disposal_class: str | None
    at: datetime
    device_id: str | None
    component_code: str | None
    device_cell: str | None
    lon: float | None
    lat: float | None
    description: str
    evidence_kind: str
    evidence: dict[str, Any] = field(default_factory=dict)
    self_handled_note: str | None = None
    # The component the device is fitted to: where the problem is, even when the problem is
    # not about the component itself (gas in a well is an event, located by its cover).
    location_component: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    cell: str | None
    lon: float | None
    lat: float | None
    outside_grid: bool


class Locator(Protocol):
    def component_category(self, component_code: str | None) -> str | None:
        """The registered component's own category code, if known."""

    def locate(self, *, component_code: str | None, device_cell: str | None, lon: float | None,
               lat: float | None) -> Place:
        """The component's registered place, else the reported position's cell, else the device's cell."""
