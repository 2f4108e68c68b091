"""The pure rules of digital city management (see docs/domain.md).

Nothing here opens a socket, touches the database, reads the clock or reads a
file other than the data shipped inside this package: time comes in as an
argument and event records go out.

Modules (see docs/domain.md):

- `grid`: 14-digit cell codes, roll-ups, responsibility grids
- `geofence`: `GridIndex`, point → cell
- `catalogue` / `components`: typed category codes, the CJ/T 214 catalogue, 16-digit component ids
- `case_state` / `lifecycle` / `permissions`: the case state machine and who may act
- `working_calendar` / `time_limits`: working time, step and disposal deadlines
- `case_facts` / `scoring`: CJ/T 292 indicators and composite scores
- `coords`: WGS-84 ↔ GCJ-02 ↔ BD-09
- `synthetic`: a deterministic jittered grid for tests, benchmarks and simulators
"""
