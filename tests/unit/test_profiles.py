"""Device profiles load, and a bad one is refused with the file and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicgrid.profiles import ProfileError, ThresholdRule, load_profile, load_profiles

GOOD = """
kind: probe
name: Probe
reporting_interval_s: 60
channels:
  telemetry:
    fields:
      level: {type: number, unit: mm, min: 0, max: 10}
alarms:
  - id: high
    field: level
    above: 8
    clear_at: 6
    target: {category: E0404, urgency: B}
  - kind: offline
"""


def _write(tmp_path: Path, text: str, name: str = "probe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_profiles_cover_the_seven_kinds() -> None:
    assert set(load_profiles()) == {"handheld", "gps-tracker", "camera", "manhole-sensor", "bin-sensor",
                                    "vehicle-terminal", "gb28181-camera"}


def test_a_good_profile_loads_with_threshold_as_the_default_rule_kind(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, GOOD))
    assert isinstance(profile.alarms[0], ThresholdRule)
    assert profile.offline_after_s == 180


@pytest.mark.parametrize(("change", "message"), [
    (("max: 10", "max: -1"), r"channels\.telemetry\.fields\.level.*min 0.* above max -1"),
    (("field: level", "field: depth"), "watches field 'depth'"),
    (("clear_at: 6", "clear_at: 9"), "clear_at 9.0 must not be above"),
    (("category: E0404", "category: X0404"), r"alarms\.0\.threshold\.target\.category"),
    (("reporting_interval_s: 60", "reporting_interval_s: 60\ncolour: red"), "colour"),
    (("  telemetry:", "  gossip:"), "unknown channel"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_kind_must_match_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="must match the file name"):
        load_profile(_write(tmp_path, GOOD, "other.yaml"))


def test_broken_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(_write(tmp_path, "kind: [unclosed"))
