"""The operator console in headless chromium: map first render (county town, then 100 k components) and
the alarm feed's publish-to-screen latency at 20 alarms/s.

Method (all on this machine, against a throwaway stack this script starts):
1. The synthetic county town (simulators.city.generate_city: 2,500 cells, streets, 8 responsibility
   grids, 622 devices) is loaded with civicgrid.store.city.load_city; components are topped up
   inside PostgreSQL to 20,000 (the county's size), later to 100,000 (a large city's).
2. ``civicgrid api`` runs as its own process serving the built console (api/console/dist).
3. Map first render: a fresh browser context (token already in localStorage, so no login form)
   opens ``/#/map``; the page marks ``map-first-render`` (performance.mark) when MapLibre is first
   idle with cells, streets, grids, devices and the component vector tiles of the view drawn. The
   figure is the mark's time since navigation start, median of `--runs`. The floor it is compared
   to: the same page's ``console-shell`` mark (the shell painted, no map data). Where the time goes: the page's
   other marks (JavaScript run, config, WebGL setup, style, data, devices), the tiles' arrival (seen by the
   browser's network events: MapLibre's worker fetches them), the bytes of each kind of request and the frames
   drawn before the first render (docs/performance.md, "Map first render").
4. Feed latency: alarm rows are committed at 20/s (the feed's source: a trigger copies them into
   ``feed_events``; the gateway → worker path before that is bench/streams.py's); the page records
   (MutationObserver + the next animation frame) when each alarm's list entry is painted.
   Latency = paint time − commit time (one clock: same machine). The ceiling: a plain Python SSE
   client on /feed, timed the same way, which is what the server delivers before any rendering.
Timings are printed, never asserted. Last line: JSON with map_first_render_ms,
map_first_render_100k_ms, map_phases_ms, map_kib, map_frames, feed_latency_p50_ms, feed_latency_p99_ms
(docs/performance.md) and more. ``--no-feed`` measures the map only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from civicgrid.stack.ephemeral import ephemeral_settings, free_ports, throwaway_stack
from civicgrid.stack.services import spawn_service, stop_service
from civicgrid.store.db import connect

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
COMPONENT_CATEGORIES = ["C0101", "C0102", "C0103", "C0105", "C0118", "C0305", "C0402"]
# Records when each feed entry is painted: a MutationObserver sees the <li>, the next frame paints it.
FEED_PROBE = """
window.__cgPainted = {};
let pending = false;
new MutationObserver(() => {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const t = Date.now();
    for (const li of document.querySelectorAll('li[data-kind=alarm]')) {
      const id = li.dataset.alarm;
      if (id && !(id in window.__cgPainted)) window.__cgPainted[id] = t;
    }
  });
}).observe(document, { childList: true, subtree: true });  // documentElement may not exist yet
"""


# Where the first render's time goes: the page's performance marks (index.html, src/main.js, src/mapbase.js,
# src/pages/map.js), the constructor's measure, and the resource timings grouped by what they fetch (a
# worker's own fetches, if any, are not in the page's timeline; the tile requests go through the page).
BREAKDOWN = """(() => {
  const marks = {};
  for (const m of performance.getEntriesByType('mark')) if (!(m.name in marks)) marks[m.name] = m.startTime;
  const measures = {};
  for (const m of performance.getEntriesByType('measure')) measures[m.name] = m.duration;
  const nav = performance.getEntriesByType('navigation')[0];
  const group = (u) => {
    const p = new URL(u).pathname;
    if (p.startsWith('/assets/')) return p.endsWith('.css') ? 'css' : p.includes('worker') ? 'worker_js'
      : p.includes('maplibre') ? 'maplibre_js' : 'js';
    if (p.startsWith('/map/tiles/')) return 'prefetched_tiles';  // the page's own requests (src/mapbase.js)
    if (p.startsWith('/map/')) return p.split('/')[2];
    return p.replace(/^\\//, '').replaceAll('/', '_') || 'html';
  };
  const requests = {};
  for (const e of performance.getEntriesByType('resource')) {
    const g = requests[group(e.name)] ||= { n: 0, start_ms: Infinity, end_ms: 0, wire_bytes: 0, body_bytes: 0 };
    g.n += 1;
    g.start_ms = Math.min(g.start_ms, e.startTime);
    g.end_ms = Math.max(g.end_ms, e.responseEnd);
    g.wire_bytes += e.transferSize;
    g.body_bytes += e.decodedBodySize;
  }
  return { html_ms: nav ? nav.responseEnd : null, marks, measures, requests };
})()"""
MAP_DATA = ("config", "cells", "streets", "grids", "devices", "inspectors")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def top_up_components(conn, total: int) -> int:
    """Add synthetic components (inside the city's bounds) until there are `total`."""
    have = conn.execute("SELECT count(*) FROM components").fetchone()[0]
    if have >= total:
        return have
    w, s, e, n = conn.execute("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
                              "(SELECT ST_Extent(geom) x FROM grid_cells) b").fetchone()
    conn.execute(
        "INSERT INTO components (code, category_code, name, lon, lat) "
        "SELECT '3415239' || lpad(i::text, 9, '0'), (%(cats)s::text[])[1 + i %% %(ncat)s], '部件', "
        "%(w)s + random() * (%(e)s - %(w)s), %(s)s + random() * (%(n)s - %(s)s) "
        "FROM generate_series(%(first)s::int, %(last)s::int) i ON CONFLICT DO NOTHING",
        {"cats": COMPONENT_CATEGORIES, "ncat": len(COMPONENT_CATEGORIES), "w": w, "s": s, "e": e, "n": n,
         "first": have + 1, "last": total})
    conn.execute("VACUUM ANALYZE components")
    return conn.execute("SELECT count(*) FROM components").fetchone()[0]


def render_once(browser, base: str, token: str, screenshot: Path | None = None) -> dict[str, float]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = ctx.new_page()
        page.add_init_script(f"localStorage.setItem('civicgrid.token', {json.dumps(token)}); "
                             "localStorage.setItem('civicgrid.muted', '1');")
        # MapLibre's worker fetches the tiles: they are not in the page's resource timeline, but the browser's
        # network events see them (epoch ms, turned into the page's clock below).
        tiles: list[tuple[str, float, float, int]] = []
        page.on("requestfinished", lambda r: tiles.append(
            (r.url, r.timing["startTime"], r.timing["startTime"] + r.timing["responseEnd"],
             r.sizes()["responseBodySize"])) if "/map/tiles/" in r.url else None)
        page.goto(f"{base}/#/map")
        page.wait_for_selector("header .who", timeout=60_000)
        shell_ms = page.evaluate("performance.now()")
        page.wait_for_selector("#city-map[data-rendered='true']", timeout=120_000)
        # On screen: the next animation frame after the first render, which waits for its commit (in software
        # WebGL the canvas's read-back).
        page.wait_for_function("performance.getEntriesByName('map-painted').length > 0", timeout=30_000)
        first = page.evaluate("window.__cgMapFirstRenderMs")
        stats = page.evaluate("window.__cgMapStats()")
        stats["phases"] = page.evaluate(BREAKDOWN)
        origin = page.evaluate("performance.timeOrigin")
        once: dict[str, tuple[str, float, float, int]] = {}  # a prefetched tile is asked twice: counted once
        for t in tiles:
            once[t[0]] = max(once.get(t[0], t), t, key=lambda u: u[3])
        for _url, start, end, size in once.values():
            g = stats["phases"]["requests"].setdefault("tiles", {
                "n": 0, "start_ms": float("inf"), "end_ms": 0.0, "wire_bytes": 0, "body_bytes": 0})
            g["n"] += 1
            g["start_ms"] = min(g["start_ms"], start - origin)
            g["end_ms"] = max(g["end_ms"], end - origin)
            g["wire_bytes"] += size  # the body as sent (compressed); its decoded size is not reported
        # When the map's own data (config, cells, streets, grids, devices, inspectors) had arrived: the rest
        # of the first render is drawing (and the component tiles, fetched by MapLibre's worker).
        stats["data_ms"] = max((v["end_ms"] for k, v in stats["phases"]["requests"].items()
                                if k in MAP_DATA), default=0.0)
        if screenshot is not None:
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot))
        # The shell's own mark when there is one (the header painted), else when the test saw the header.
        return {"first_render_ms": first, "shell_ms": stats["phases"]["marks"].get("console-shell", shell_ms), **stats}
    finally:
        ctx.close()


def measure_render(browser, base: str, token: str, runs: int, label: str, screenshot: Path | None) -> dict:
    results = [render_once(browser, base, token, screenshot if n == runs - 1 else None) for n in range(runs)]
    med = statistics.median(r["first_render_ms"] for r in results)
    shell = statistics.median(r["shell_ms"] for r in results)
    data = statistics.median(r["data_ms"] for r in results)
    last = results[-1]
    phases = {name: round(statistics.median(v), 1) for name in PHASES
              if (v := [x for r in results if (x := phase(r, name)) is not None])}
    say(f"{label}: map first render {med:.0f} ms (median of {runs}; shell alone {shell:.0f} ms, map data in "
        f"{data:.0f} ms; zoom {last['zoom']:.1f}, {last['components']} components in the view's tiles)")
    say(f"  phases (ms since navigation start, medians): {json.dumps(phases)}")
    say("  requests of the last load: " + "; ".join(
        f"{k} ×{g['n']} {g['wire_bytes'] / 1024:.0f} KiB on the wire ({g['body_bytes'] / 1024:.0f} KiB), "
        f"{g['start_ms']:.0f}–{g['end_ms']:.0f} ms" for k, g in sorted(last["phases"]["requests"].items(),
                                                                       key=lambda kv: kv[1]["start_ms"])))
    say(f"  frames drawn until the first render: {[r.get('frames') for r in results]}")
    return {"ms": round(med, 1), "shell_ms": round(shell, 1), "data_ms": round(data, 1),
            "frames": statistics.median(r.get("frames") or 0 for r in results),
            "components_drawn": last["components"], "zoom": round(last["zoom"], 2), "phases": phases,
            "kib": {k: round(g["wire_bytes"] / 1024) for k, g in last["phases"]["requests"].items()}}


# The breakdown printed in the JSON line: when each step was done, ms since navigation start (webgl_setup
# is the map constructor's own duration: canvas, WebGL context, style parse).
PHASES = ("html", "js", "shell", "config", "webgl_setup", "style_loaded", "data", "devices", "tiles",
          "first_render", "painted")


def phase(result: dict, name: str) -> float | None:
    p = result["phases"]
    found = {"html": p["html_ms"], "js": p["marks"].get("console-main"), "shell": p["marks"].get("console-shell"),
             "config": p["marks"].get("map-config"), "webgl_setup": p["measures"].get("map-webgl"),
             "style_loaded": p["marks"].get("map-style-loaded"), "data": p["marks"].get("map-data"),
             "devices": p["marks"].get("map-devices"),
             "tiles": p["requests"].get("tiles", {}).get("end_ms"),
             "first_render": result["first_render_ms"], "painted": p["marks"].get("map-painted")}[name]
    return None if found is None else float(found)


def sse_client(base: str, token: str, seen: dict[str, float], stop: threading.Event, ready: threading.Event) -> None:
    """The ceiling: arrival times of alarm events at a plain HTTP client."""
    try:
        with httpx.Client(timeout=None, headers={"Authorization": f"Bearer {token}"}) as c, \
                c.stream("GET", f"{base}/feed", params={"kinds": "alarm"}) as r:
            ready.set()
            for line in r.iter_lines():
                if line.startswith("data:"):
                    alarm_id = json.loads(line[5:]).get("alarm_id")
                    if alarm_id:
                        seen.setdefault(alarm_id, time.time())
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def measure_feed(browser, settings, base: str, token: str, rate: float, count: int) -> dict:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.add_init_script(f"localStorage.setItem('civicgrid.token', {json.dumps(token)}); "
                         "localStorage.setItem('civicgrid.muted', '1');" + FEED_PROBE)
    page.goto(f"{base}/#/map")
    page.wait_for_selector(".feed-status.live", timeout=60_000)
    page.wait_for_selector("#city-map[data-rendered='true']", timeout=120_000)
    seen: dict[str, float] = {}
    stop, ready = threading.Event(), threading.Event()
    reader = threading.Thread(target=sse_client, args=(base, token, seen, stop, ready), daemon=True)
    reader.start()
    ready.wait(10)
    time.sleep(1.0)
    committed: dict[str, float] = {}
    with connect(settings.db, autocommit=True) as conn:
        devices = [r[0] for r in conn.execute("SELECT d.id FROM devices d JOIN components c ON c.code = "
                                              "d.component_code ORDER BY d.id LIMIT 200").fetchall()]
        start = time.monotonic()
        for n in range(count):
            alarm_id = f"bench-{uuid.uuid4().hex[:12]}"
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            conn.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action, category_code, urgency) "
                         "VALUES (now(), %s, %s, 'bench', 'raise', 'C0102', %s)",
                         (alarm_id, devices[n % len(devices)], "A" if n % 10 == 0 else "C"))
            committed[alarm_id] = time.time()
    deadline = time.monotonic() + 30
    painted: dict[str, float] = {}
    while time.monotonic() < deadline:
        painted = page.evaluate("window.__cgPainted")
        if len(painted) >= count and len(seen) >= count:
            break
        time.sleep(0.5)
    stop.set()
    if not painted:
        say(f"nothing painted: {page.locator('li[data-kind=alarm]').count()} alarm entries on the page, "
            f"{len(seen)} at the SSE client, feed status {page.inner_text('.feed-status')!r}")
    ctx.close()
    screen = [painted[a] / 1000 - t for a, t in committed.items() if a in painted]
    wire = [seen[a] - t for a, t in committed.items() if a in seen]
    lost = count - len(screen)
    say(f"feed at {rate}/s: {len(screen)}/{count} painted, p50 {statistics.median(screen) * 1000:.0f} ms, p99 "
        f"{pct(screen, 0.99) * 1000:.0f} ms; plain SSE client p50 {statistics.median(wire) * 1000:.0f} ms")
    return {"feed_latency_p50_ms": round(statistics.median(screen) * 1000, 1),
            "feed_latency_p99_ms": round(pct(screen, 0.99) * 1000, 1),
            "feed_sse_client_p50_ms": round(statistics.median(wire) * 1000, 1),
            "feed_sse_client_p99_ms": round(pct(wire, 0.99) * 1000, 1), "feed_alarms": count,
            "feed_rate_per_s": rate, "feed_not_painted": lost}


def start_api(settings, log: Path):
    """`civicgrid api` as its own process, returned once /healthz answers."""
    api = spawn_service("api", settings, log)
    base = f"http://127.0.0.1:{settings.api.port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return api
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or api.poll() is not None:
            stop_service(api)
            raise RuntimeError(f"the API did not start; see {log}")
        time.sleep(0.3)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="map loads per measurement (median)")
    parser.add_argument("--county-components", type=int, default=20_000)
    parser.add_argument("--big-components", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20.0, help="alarms per second for the feed")
    parser.add_argument("--alarms", type=int, default=400)
    parser.add_argument("--no-feed", action="store_true", help="measure the map only (no feed latency figures)")
    parser.add_argument("--screenshots", type=Path, help="save the map screenshots here (e.g. docs/img)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    return parser.parse_args()


def in_browser(settings, base: str, token: str, args: argparse.Namespace, county: int):
    """The three measurements in one headless chromium: county render, feed latency, 100 k render."""
    from playwright.sync_api import sync_playwright

    shots = args.screenshots
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            county_fig = measure_render(browser, base, token, args.runs, f"county town ({county} components)",
                                        shots / "console-map.png" if shots else None)
            feed = {} if args.no_feed else measure_feed(browser, settings, base, token, args.rate, args.alarms)
            with connect(settings.db, autocommit=True) as conn:
                big = top_up_components(conn, args.big_components)
            big_fig = measure_render(browser, base, token, args.runs, f"large city ({big} components)", None)
        finally:
            browser.close()
    return county_fig, feed, big, big_fig


def main() -> None:
    args = parse_args()
    # Run as `python bench/console.py`, this file's directory is first on sys.path: use the repository root.
    root = Path(__file__).resolve().parent.parent
    sys.path[0] = str(root)
    from api.static_console import CONSOLE_DIST
    from api.users import add_user
    from civicgrid.stack.mosquitto import local_broker
    from civicgrid.store.city import load_city
    from simulators.city import generate_city

    if not (CONSOLE_DIST / "index.html").exists():
        sys.exit("the console is not built: run `make setup` (npm ci && npm run build in api/console)")
    settings = ephemeral_settings(prefix="civicgrid-bench-")
    (port,) = free_ports(1)
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={
        "port": port, "media_dir": settings.stack.var_dir / "media"})})
    base_dir = settings.stack.var_dir.parent
    api = None
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        try:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as city_dir:
                summary = generate_city(11, out_dir=city_dir)
                load_city(settings, city_dir, broker=local_broker(settings))
            with connect(settings.db, autocommit=True) as conn:
                county = top_up_components(conn, args.county_components)
            say(f"county town loaded ({summary['cells']} cells, {county} components, {summary['devices']} devices) "
                f"in {time.perf_counter() - t0:.1f} s")
            password = add_user(settings, "bench-operator", "operator")
            api = start_api(settings, base_dir / "api.log")
            base = f"http://127.0.0.1:{port}"
            token = httpx.post(f"{base}/auth/token", data={"username": "bench-operator", "password": password}
                               ).json()["access_token"]
            county_fig, feed, big, big_fig = in_browser(settings, base, token, args, county)
        finally:
            if api is not None:
                stop_service(api)
    print(json.dumps({
        "map_first_render_ms": county_fig["ms"], "map_first_render_100k_ms": big_fig["ms"],
        "map_painted_ms": county_fig["phases"].get("painted"), "map_painted_100k_ms": big_fig["phases"].get("painted"),
        **feed,
        "map_shell_ms": county_fig["shell_ms"], "map_data_ms": county_fig["data_ms"],
        "map_phases_ms": county_fig["phases"], "map_phases_100k_ms": big_fig["phases"], "map_kib": county_fig["kib"],
        "map_kib_100k": big_fig["kib"], "map_frames": county_fig["frames"], "map_frames_100k": big_fig["frames"],
        "map_data_100k_ms": big_fig["data_ms"], "components_county": county, "components_big": big,
        "components_drawn_100k": big_fig["components_drawn"],
        "map_zoom": big_fig["zoom"], "cells": summary["cells"], "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
