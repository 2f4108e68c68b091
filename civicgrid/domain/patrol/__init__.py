"""Patrol coverage rules (docs/patrol.md): track cleaning, matching to cells and road segments, passes,
coverage against the plan, anomalies, track simplification. Pure: no I/O, time passed in."""

from civicgrid.domain.patrol.anomalies import PatrolAlarm
from civicgrid.domain.patrol.coverage import CoverageSummary, DayTally, summarise
from civicgrid.domain.patrol.network import Projection, RoadSegment, SegmentIndex, Street, split_streets
from civicgrid.domain.patrol.rules import PATROL_RULES, PatrolPlan, PatrolRules, Reject
from civicgrid.domain.patrol.tracker import Fix, PatrolNetwork, PatrolTracker

__all__ = ["PATROL_RULES", "CoverageSummary", "DayTally", "Fix", "PatrolAlarm", "PatrolNetwork", "PatrolPlan",
           "PatrolRules", "PatrolTracker", "Projection", "Reject", "RoadSegment", "SegmentIndex", "Street",
           "split_streets", "summarise"]
