"""Reading component labels (QR codes) from handheld photos, as the API does at every photo upload.

Standalone (no services): synthetic photos of three sizes (the simulator's 640×480, 1280×960,
a 12 MP phone photo), each with a label and without one, read by `civicgrid.labels.photo_labels`
ten times; the ceiling is the JPEG decode alone in the same run. A photo without a label costs
most: the classic detector is tried after the ArUco one finds nothing. Prints figures; the last
line is one JSON object (docs/performance.md, "How the benchmarks report").
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

# Run as `python bench/labels.py`: the repository root (for tests.support) instead of bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from civicgrid.labels import decode_image, photo_labels  # noqa: E402
from tests.support.photos import label_photo  # noqa: E402

LABEL = "CG:3415230305000017"
SIZES = {"640x480": (640, 480, 150), "1280x960": (1280, 960, 220), "4000x3000": (4000, 3000, 600)}
REPEATS = 10


def median_ms(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    figures: dict[str, object] = {"cores": os.cpu_count()}
    for name, (w, h, side) in SIZES.items():
        with_label, without = label_photo(w, h, LABEL, side), label_photo(w, h, None)
        assert photo_labels(with_label) == [LABEL] and photo_labels(without) == []
        figures[f"decode_{name}_ms"] = median_ms(lambda jpeg=with_label: decode_image(jpeg))
        figures[f"label_{name}_ms"] = median_ms(lambda jpeg=with_label: photo_labels(jpeg))
        figures[f"no_label_{name}_ms"] = median_ms(lambda jpeg=without: photo_labels(jpeg))
        print(f"{name}: decode {figures[f'decode_{name}_ms']} ms (ceiling), label read "
              f"{figures[f'label_{name}_ms']} ms, no label {figures[f'no_label_{name}_ms']} ms (median of {REPEATS})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
