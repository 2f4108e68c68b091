"""The county month, accelerated: how long a simulated month takes, and the platform's CPU per simulated day.

Method (against a throwaway stack this script starts):
1. The county town (simulators.city.generate_city, seed 1: 25 km², 2,500 cells, 8 responsibility grids, 18
   inspectors; no sensors or cameras: the month's problems come through the API) is loaded with
   civicgrid.store.city.load_city.
2. `civicgrid county-month`'s runner (simulators/people/month.py) starts an API and a deadline-watching stream
   worker on one simulated clock (`--speed` simulated seconds per wall second, or `auto`: adjusted while running
   so that the people look at their work lists every `--target-look-min` simulated minutes, up to `--max-speed`,
   through a clock schedule every process reads) that begins at midnight far
   enough back that the month ends in the past, and runs the town's people (simulators/scenarios/
   county-month.yaml: the seed's 440 problems a day, `--scale` times that) through the API for `--days`,
   then a drain of at most `--drain-days` (no new problems; the people finish what is open).
3. Wall time is the run's, from the platform's start to the people's stop; CPU is the API's and the worker's
   (user + system, /proc), the people's process excluded (the load generator). PostgreSQL's and Kafka's CPU
   are not counted (they serve other work on a shared machine).

The report (cases by source, closure, on-time rates, score tables) goes to `--out` (county-month.md, .json).
Figures are printed, never asserted. Last line: JSON with simulated_days, wall_s, cpu_s_per_simulated_day, cases,
closure_rate (at the month's end, %) and more (docs/county-month.md).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from civicgrid.stack.ephemeral import as_environment, ephemeral_settings, throwaway_stack
from civicgrid.store.city import load_city
from simulators.city import generate_city
from simulators.people.month import run_month
from simulators.people.scenario import MONTH_SCENARIO, Month, load_scenario


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--speed", default="300", help="a number, or 'auto'")
    parser.add_argument("--max-speed", type=float, default=None)
    parser.add_argument("--target-look-min", type=float, default=None)
    parser.add_argument("--drain-days", type=float, default=3.0)
    parser.add_argument("--scale", type=float, default=1.0, help="times the seed's 440 problems a day")
    parser.add_argument("--out", type=Path, default=Path("var/county-month-bench"))
    args = parser.parse_args()
    people = load_scenario(MONTH_SCENARIO)
    people = people.model_copy(update={
        "month": Month.model_validate({**people.month.model_dump(), "days": args.days, "speed": args.speed,
                                       "drain_days": args.drain_days, **{k: v for k, v in (
                                           ("max_speed", args.max_speed), ("target_look_min", args.target_look_min))
                                           if v is not None}}),
        "patrol": people.patrol.model_copy(update={"reports_per_day": people.patrol.reports_per_day * args.scale}),
        "video": people.video.model_copy(update={"captures_per_day": people.video.captures_per_day * args.scale}),
        "citizens": people.citizens.model_copy(update={"calls_per_day": people.citizens.calls_per_day * args.scale}),
    })
    settings = ephemeral_settings(prefix="civicgrid-bench-")
    with throwaway_stack(settings, progress=lambda m: say(f"stack {m}")) as stack:
        city = settings.stack.var_dir / "city"
        generate_city(1, 25.0, city, covers=0, bins=0, lights=0, trackers=0, cameras=0)
        load_city(settings, city, broker=stack.mosquitto.files)
        password = secrets.token_urlsafe(18)
        # The admin as an operator makes the first one (bench/api.py shadows the api package here).
        subprocess.run([sys.executable, "-m", "civicgrid.cli", "users", "add", "sim-admin", "--role", "admin",
                        "--password-stdin"], input=password + "\n", text=True, check=True, capture_output=True,
                       env={**os.environ, **as_environment(settings)})
        result = run_month(settings, people, MONTH_SCENARIO.name, args.out, settings.stack.var_dir / "people.json",
                           ("sim-admin", password), say=say)
    run, report = result.run, result.report
    out = {"simulated_days": run["simulated_days"], "month_days": args.days, "wall_s": run["wall_s"],
           "speed": run["speed"], "scale": args.scale, "cpu_s": run["cpu_s"],
           "cpu_s_by_process": run["cpu_s_by_process"],
           "cpu_s_per_simulated_day": run["cpu_s_per_simulated_day"], "cases": report["cases"],
           "closure_rate": report["closure"]["rate_at_month_end_pct"],
           "closure_rate_after_drain": report["closure"]["rate_at_end_pct"],
           "closure_rate_before_last_day": report["closure"]["rate_before_last_day_pct"],
           "source_mix_pct": {k: v["pct"] for k, v in report["by_source"].items()},
           "look_interval_sim_min": run["look_interval_sim_min"],
           **({"speeds": run["speeds"]} if "speeds" in run else {}), "report": str(result.markdown_path)}
    say(f"{run['simulated_days']} simulated days in {run['wall_s']} s wall; platform CPU {run['cpu_s']} s "
        f"({run['cpu_s_per_simulated_day']} s per simulated day); {report['cases']} cases, closed by the month's "
        f"end {out['closure_rate']} %")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
