"""PostgreSQL's CPU per telemetry row written by COPY: the text format against the binary one the sinks write
(streams/sinks.py `telemetry_rows`), and the time index as a BRIN (migration 0034) against the B-tree it replaced.

Method (on this machine, against a throwaway stack this script starts): N readings (default 200,000) of 1,000
manholes, COPYed into the telemetry hypertable in batches of 5,000 (one transaction each) on one connection, the
table emptied before each pass; PostgreSQL's CPU (all its processes) from the first batch to the last. The binary
rows are the sinks' own; the text lines are written here as the sinks wrote them before. Each variant runs
`--rounds` times, alternately; the figures are printed, never asserted. Last line: JSON (docs/performance.md,
"How the benchmarks report").

    .venv/bin/python bench/telemetry_copy.py [--rows 200000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/, first

from bench._measure import cpu_of  # noqa: E402
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack  # noqa: E402
from civicgrid.store.db import connect  # noqa: E402
from streams.sinks import COPY_BINARY_HEADER, COPY_BINARY_TRAILER, telemetry_rows  # noqa: E402

BATCH = 5000
COLUMNS = "time, device_id, seq, received_at, payload"
START = datetime(2026, 12, 6, tzinfo=UTC)


def readings(n: int) -> list[dict]:
    out = []
    for i in range(n):
        ts = (START + timedelta(milliseconds=7 * i)).isoformat()
        out.append({"ts": ts, "received_at": ts, "device_id": f"bench-{i % 1000:05d}", "seq": i // 1000 + 1,
                    "data": {"tilt_deg": 1.5, "battery_pct": 80.0, "water_level_mm": 123.0}})
    return out


def text_lines(recs: list[dict]) -> list[bytes]:
    """COPY's text format, as the sinks wrote it before the binary rows (no field here needs escaping)."""
    return [f"{r['ts']}\t{r['device_id']}\t{r['seq']}\t{r['received_at']}\t".encode() + orjson.dumps(r["data"])
            + b"\n" for r in recs]


def copy_cpu_us(conn, pg_pids: list[int], rows: list[bytes], binary: bool) -> float:
    """PostgreSQL's CPU µs per row to COPY `rows` in batches into the emptied table."""
    conn.execute("TRUNCATE telemetry")
    before = cpu_of(pg_pids)
    for at in range(0, len(rows), BATCH):
        chunk = b"".join(rows[at:at + BATCH])
        with conn.transaction(), conn.cursor() as cur:
            if binary:
                with cur.copy(f"COPY telemetry ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
                    copy.write(COPY_BINARY_HEADER + chunk + COPY_BINARY_TRAILER)
            else:
                with cur.copy(f"COPY telemetry ({COLUMNS}) FROM STDIN") as copy:
                    copy.write(chunk)
    return (cpu_of(pg_pids) - before) / len(rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    recs = readings(args.rows)
    started = time.process_time()
    binary = telemetry_rows(recs)
    build_us = (time.process_time() - started) / len(recs) * 1e6
    text = text_lines(recs)
    figures: dict[str, list[float]] = {}
    settings = ephemeral_settings(prefix="civicgrid-bench-copy-")
    with throwaway_stack(settings, progress=lambda m: print(f"stack {m}", file=sys.stderr)) as stack:
        pg = [s.pid for s in stack.status() if s.name == "postgres" and s.pid]
        with connect(settings.db, autocommit=True) as conn:
            for index in ("brin", "btree"):
                if index == "btree":  # the index before migration 0034
                    conn.execute("DROP INDEX telemetry_time_brin")
                    conn.execute("CREATE INDEX telemetry_time_idx ON telemetry (time DESC)")
                for _ in range(args.rounds):
                    for form, rows in (("binary", binary), ("text", text)):
                        us = copy_cpu_us(conn, pg, rows, form == "binary")
                        figures.setdefault(f"{form}_{index}", []).append(round(us, 2))
                        print(f"{form:6} rows, time index {index:5}: PostgreSQL {us:.2f} CPU µs a row",
                              file=sys.stderr, flush=True)
    print(json.dumps({"postgres_cpu_us_per_row": {k: round(sum(v) / len(v), 2) for k, v in figures.items()},
                      "runs": figures, "binary_row_build_us": round(build_us, 2), "rows": args.rows,
                      "batch": BATCH, "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
