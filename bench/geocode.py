"""Geocoding latency: address text → ranked candidates over a county's address database, on a throwaway stack.

Method: a synthetic county of `--roads` roads (names drawn from common road-name characters) with door plates
numbered 1 … `--per-road` (200,000 address points by default) is imported through
civicgrid.store.addresses.import_addresses (its rate is reported). Then `--queries` addresses are asked for as
people say them: the county's prefix said or not, Chinese or Arabic numerals, full-width digits, a unit and room
after the number, and one character of the road name wrong in a fifth of them. Each query is one `geocode` call
on one connection; the time is the call's. `top1` is the share whose best candidate is the asked door plate
(the typos included).

Then `--reverse` points anywhere in the county (a road's door plates or the gaps between them) are reverse-geocoded
as every case detail does (`reverse_geocode`: the nearest address and the nearest road segment within 200 m); the
county has no road segments, the road probe's worst case.

Last line: JSON with p50_ms, p99_ms, top1, addresses, import_per_s, reverse_p50_ms, reverse_p99_ms
(docs/geocoding.md). The issue's target: p99 ≤ 50 ms over 200,000 address points.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import cn2an

from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.store.addresses import AddressEntry, geocode, import_addresses, reverse_geocode
from civicgrid.store.db import connect

CITY = ("安徽省", "六安市", "舒城县", "城关镇")
NAME_CHARS = "人民解放建设和平中山新华胜利友谊文化光明幸福长江黄山梅河春秋城关南北东西园林古城龙舒桃溪杭埠春晖"
KINDS_OF_ROAD = ("路", "街", "大道", "巷")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def road_names(count: int, rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(NAME_CHARS) for _ in range(rng.choice((2, 2, 3)))) + rng.choice(KINDS_OF_ROAD))
    return sorted(names)


def spoken(road: str, number: int, rng: random.Random) -> str:
    """One way a caller might say 'road number'."""
    if rng.random() < 0.2:  # one character of the name misheard
        i = rng.randrange(len(road) - 1)
        road = road[:i] + rng.choice(NAME_CHARS) + road[i + 1:]
    n = str(number)
    form = rng.random()
    if form < 0.3:
        n = cn2an.an2cn(number)
    elif form < 0.4:
        n = n.translate(FULL_WIDTH)
    text = f"{road}{n}号"
    if rng.random() < 0.4:
        text = rng.choice(("舒城县", "安徽省六安市舒城县", "城关镇")) + text
    if rng.random() < 0.3:
        text += f"{rng.randint(1, 6)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roads", type=int, default=1000)
    parser.add_argument("--per-road", type=int, default=200)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--reverse", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    roads = road_names(args.roads, rng)
    settings = ephemeral_settings(prefix="civicgrid-bench-")
    with throwaway_stack(settings, progress=lambda m: say(f"stack {m}")), connect(settings.db) as conn:
        entries = [AddressEntry("door_plate", f"舒城县{road}{n}号", {"type": "Point", "coordinates": [
            116.8 + (r % 40) * 0.005 + n * 0.00002, 31.3 + (r // 40) * 0.004]})
            for r, road in enumerate(roads) for n in range(1, args.per_road + 1)]
        started = time.perf_counter()
        added = import_addresses(conn, entries, prefixes=CITY, source="bench",
                                 progress=lambda n: say(f"imported {n:,} …"))
        conn.commit()
        import_s = time.perf_counter() - started
        say(f"imported {added:,} addresses in {import_s:.1f} s")
        conn.execute("ANALYZE addresses")
        conn.execute("ANALYZE address_grams")
        times, hits = [], 0
        for _ in range(args.queries):
            road, number = rng.choice(roads), rng.randint(1, args.per_road)
            text = spoken(road, number, rng)
            t0 = time.perf_counter()
            found = geocode(conn, text, prefixes=CITY)
            times.append((time.perf_counter() - t0) * 1000)
            hits += bool(found) and found[0].address == f"舒城县{road}{number}号"
        reverse = []
        for _ in range(args.reverse):
            lon, lat = 116.8 + rng.random() * 0.2 + rng.random() * 0.004, 31.3 + rng.random() * 0.1
            t0 = time.perf_counter()
            reverse_geocode(conn, lon, lat)
            reverse.append((time.perf_counter() - t0) * 1000)
        conn.rollback()
    reverse.sort()
    times.sort()
    result = {"p50_ms": round(times[len(times) // 2], 2), "p99_ms": round(times[int(len(times) * 0.99)], 2),
              "max_ms": round(times[-1], 2), "top1": round(hits / args.queries, 3), "queries": args.queries,
              "addresses": added, "import_per_s": round(added / import_s),
              "reverse_p50_ms": round(reverse[len(reverse) // 2], 2) if reverse else None,
              "reverse_p99_ms": round(reverse[int(len(reverse) * 0.99)], 2) if reverse else None}
    say(f"{args.queries} queries over {added:,} addresses: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"top-1 {result['top1']:.1%}; reverse p50 {result['reverse_p50_ms']} ms, p99 {result['reverse_p99_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
