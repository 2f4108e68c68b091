"""The city's cameras: on street lights, ONVIF ports, ROIs with catalogue codes inside the image, reproducible."""

from __future__ import annotations

from pathlib import Path

from civicgrid.domain.catalogue import default_catalogue
from simulators.city import generate_city, load_city_file

KW = {"covers": 20, "bins": 10, "lights": 30, "trackers": 1, "inspectors": 2}


def test_cameras_are_placed_on_street_lights_with_valid_regions(tmp_path: Path) -> None:
    generate_city(3, 1.0, tmp_path / "a", cameras=5, camera_port_base=19000, **KW)
    city = load_city_file(tmp_path / "a")
    cams = [d for d in city["devices"] if d["kind"] == "camera"]
    assert len(cams) == 5
    assert sorted(c["onvif_port"] for c in cams) == list(range(19000, 19005))
    catalogue = default_catalogue()
    for cam in cams:
        assert cam["component_code"][6:10] == "0118" and cam["grid_cell_code"]
        width, height = cam["image"]
        assert len(cam["rois"]) == 2 and len({r["id"] for r in cam["rois"]}) == 2
        for roi in cam["rois"]:
            assert not catalogue.get(roi["event_code"]).code.is_major
            assert len(roi["polygon"]) >= 3 and roi["dwell_s"] > 0
            assert all(0 <= x <= width and 0 <= y <= height for x, y in roi["polygon"])


def test_cameras_change_nothing_else_and_are_reproducible(tmp_path: Path) -> None:
    generate_city(3, 1.0, tmp_path / "none", **KW)
    generate_city(3, 1.0, tmp_path / "some", cameras=4, **KW)
    generate_city(3, 1.0, tmp_path / "again", cameras=4, **KW)
    for name in ("cells.geojson", "streets.geojson", "components.geojson"):
        assert (tmp_path / "none" / name).read_bytes() == (tmp_path / "some" / name).read_bytes()
    assert (tmp_path / "some" / "city.json").read_bytes() == (tmp_path / "again" / "city.json").read_bytes()
    without = load_city_file(tmp_path / "none")["devices"]
    with_cams = load_city_file(tmp_path / "some")["devices"]
    assert with_cams[:len(without)] == without
    assert [d["kind"] for d in with_cams[len(without):]] == ["camera"] * 4
