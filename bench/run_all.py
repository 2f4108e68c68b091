"""Run the benchmarks in bench/ and collect the JSON object each prints last into bench/results.json.

`python bench/run_all.py` runs them all; `python bench/run_all.py e2e streams` runs those, and the
others keep their last figures in results.json. A benchmark is a script that measures and prints;
it never asserts a timing (docs/streams.md, "Measured"). This runner only gathers: a benchmark that
fails or prints no JSON is reported and the others still run. `soak` runs its default 60 minutes.
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
    if sys.argv[1:]:
        unknown = set(sys.argv[1:]) - {p.stem for p in scripts}
        if unknown:
            print(f"no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        scripts = [p for p in scripts if p.stem in sys.argv[1:]]
    out = HERE / "results.json"
    results: dict[str, object] = json.loads(out.read_text()) if out.exists() else {}
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
    out.write_text(json.dumps(dict(sorted(results.items())), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({len(scripts) - len(failed)} run{', failed: ' + ', '.join(failed) if failed else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
