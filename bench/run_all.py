"""Run every benchmark in bench/ and collect the JSON object each prints last into bench/results.json.

A benchmark is a script that measures and prints; it never asserts a timing
(DESIGN.md "Benchmarks").  This runner only gathers: a benchmark that fails
or prints no JSON is reported and the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_"))
    results: dict[str, object] = {}
    failed = []
    for script in scripts:
        name = script.stem
        print(f"== bench {name}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr[-4000:])
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            figures = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
        except json.JSONDecodeError:
            figures = None
        if not isinstance(figures, dict):
            failed.append(name)
            print(f"!! bench {name} failed (exit {proc.returncode}) or printed no JSON last line")
            continue
        figures["wall_s"] = round(time.monotonic() - started, 1)
        results[name] = figures
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({len(results)} benchmarks{', failed: ' + ', '.join(failed) if failed else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
