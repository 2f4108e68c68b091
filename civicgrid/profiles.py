"""Device profiles: one YAML per device kind in ``device-profiles/``, validated at load.

A profile is data, not code (docs/architecture.md, "Device kinds are data"): the payload
fields of each MQTT channel with their types, units and ranges, the expected
reporting interval (for offline detection), and the alarm rules the streams
evaluate, each mapped to a CJ/T 214 category code and an urgency (the disposal
class of the alarm's case).
The gateway compiles the field specs into validators; the streams read the
alarm rules.  Errors name the file and the field.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from civicgrid.domain.time_limits import DisposalClass

CATEGORY_CODE_PATTERN = r"^[CE][0-9]{4}$"
DEFAULT_PROFILES_DIR = Path(__file__).resolve().parent.parent / "device-profiles"


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    STRING = "string"
    BOOLEAN = "boolean"
    STRING_LIST = "string_list"


class FieldSpec(_Model):
    """One payload field: its type, canonical unit, allowed range and whether it must be present."""

    type: FieldType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    required: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> FieldSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class ChannelFormat(StrEnum):
    JSON = "json"          # a JSON object with seq, ts and the declared fields
    NMEA = "nmea"          # raw NMEA 0183 sentences (or JSON with the declared fields)
    PRESENCE = "presence"  # retained online/offline, also the Last Will


class BinaryField(_Model):
    """One field of a binary payload: its `struct` format, read in order, then `value * scale + offset`."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    format: Literal["B", "b", "H", "h", "I", "i", "Q", "q", "f", "d", "x"]  # x: a pad byte, not a field
    scale: float = 1.0
    offset: float = 0.0


class BinaryLayout(_Model):
    """The bytes an NB-IoT device sends through a carrier platform (docs/carriers.md), decoded into the
    channel's fields before validation; a payload of any other length is refused."""

    byte_order: Literal["big", "little"] = "big"
    fields: tuple[BinaryField, ...] = Field(min_length=1)


class ChannelSpec(_Model):
    format: ChannelFormat = ChannelFormat.JSON
    # Set where the device's own bytes arrive through a carrier platform (gateway/carriers/); MQTT keeps JSON.
    binary: BinaryLayout | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    # What to do with a field the profile does not declare: a firmware update that adds
    # a reading should not dead-letter every message, but nothing passes unvalidated.
    unknown_fields: Literal["reject", "drop"] = "reject"

    @model_validator(mode="after")
    def _binary_names_declared_fields(self) -> ChannelSpec:
        if self.binary is not None:
            names = [f.name for f in self.binary.fields if f.format != "x"]
            unknown = sorted(set(names) - set(self.fields) - {"seq"})
            if unknown or len(names) != len(set(names)):
                raise ValueError(f"binary fields must be distinct and declared fields or seq; not: {unknown or names}")
        return self


class AlarmTarget(_Model):
    """What an alarm becomes: a city case of a category (component or event), or a device alarm."""

    category: Annotated[str, Field(pattern=CATEGORY_CODE_PATTERN)] | None = None
    # The case concerns the component the device is linked to (a manhole cover's own
    # C01xx code); `category` is then only the fallback for an unlinked device.
    linked_component: bool = False
    component_state: Literal["damaged", "missing", "occupied"] | None = None
    # The disposal class (docs/domain.md §5) the alarm's case gets; the YAML keeps the
    # field name `urgency` that profile authors know.
    urgency: DisposalClass = DisposalClass.C
    # Device health (offline, battery, tamper) raises device alarms for operators,
    # not city cases, unless a city maps them (docs/domain.md §3).
    device_alarm: bool = False

    @model_validator(mode="after")
    def _case_needs_category(self) -> AlarmTarget:
        if not self.device_alarm and self.category is None:
            raise ValueError("a case alarm needs a category, also as the fallback of linked_component "
                             "(or set device_alarm: true)")
        return self


class Debounce(_Model):
    readings: int = Field(default=1, ge=1)
    seconds: float = Field(default=0, ge=0)


class ThresholdRule(_Model):
    """Raise when `field` crosses `above`/`below` for `debounce`; clear only past `clear_at` (hysteresis)."""

    kind: Literal["threshold"] = "threshold"
    id: str
    description: str | None = None
    field: str
    above: float | None = None
    below: float | None = None
    clear_at: float
    debounce: Debounce = Field(default_factory=Debounce)
    target: AlarmTarget

    @model_validator(mode="after")
    def _one_direction_with_hysteresis(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above / below")
        if self.above is not None and self.clear_at > self.above:
            raise ValueError(f"clear_at {self.clear_at} must not be above the raise threshold {self.above}")
        if self.below is not None and self.clear_at < self.below:
            raise ValueError(f"clear_at {self.clear_at} must not be below the raise threshold {self.below}")
        return self


class RateOfChangeRule(_Model):
    """Raise when `field` changes by more than `max_change` within `window_s` (e.g. a water level surge)."""

    kind: Literal["rate_of_change"] = "rate_of_change"
    id: str
    description: str | None = None
    field: str
    max_change: float = Field(gt=0)
    window_s: float = Field(gt=0)
    clear_after_s: float = Field(default=600, gt=0)
    target: AlarmTarget


class OfflineRule(_Model):
    """Raise when the device is silent for reporting_interval_s × offline_tolerance, or says `offline`."""

    kind: Literal["offline"] = "offline"
    id: str = "offline"
    description: str | None = None
    target: AlarmTarget = Field(default_factory=lambda: AlarmTarget(device_alarm=True, urgency=DisposalClass.C))


class EventRule(_Model):
    """Raise on a device event of a given type (camera tamper, cover opened); clear on `clear_event`."""

    kind: Literal["event"] = "event"
    id: str
    description: str | None = None
    event_type: str
    clear_event: str | None = None
    target: AlarmTarget


def _rule_kind(value: object) -> str | None:
    # A rule without `kind` is a threshold, the common case.
    kind: str | None = value.get("kind", "threshold") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind


AlarmRule = Annotated[
    Annotated[ThresholdRule, Tag("threshold")]
    | Annotated[RateOfChangeRule, Tag("rate_of_change")]
    | Annotated[OfflineRule, Tag("offline")]
    | Annotated[EventRule, Tag("event")],
    Discriminator(_rule_kind),
]

CHANNELS = ("telemetry", "event", "track", "report", "status")


class DeviceProfile(_Model):
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    name: str
    name_zh: str | None = None
    description: str | None = None
    component_categories: tuple[Annotated[str, Field(pattern=r"^C[0-9]{4}$")], ...] = ()
    reporting_interval_s: float = Field(gt=0)
    offline_tolerance: float = Field(default=3.0, ge=1)
    channels: dict[str, ChannelSpec]
    alarms: tuple[AlarmRule, ...] = ()

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: dict[str, ChannelSpec]) -> dict[str, ChannelSpec]:
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; channels are {list(CHANNELS)}")
        return channels

    @model_validator(mode="after")
    def _rules_name_declared_fields(self) -> DeviceProfile:
        telemetry = self.channels.get("telemetry")
        declared = set(telemetry.fields) if telemetry else set()
        ids = [rule.id for rule in self.alarms]
        if len(ids) != len(set(ids)):
            raise ValueError(f"alarm ids must be unique, got {ids}")
        for rule in self.alarms:
            if isinstance(rule, ThresholdRule | RateOfChangeRule) and rule.field not in declared:
                raise ValueError(f"alarm {rule.id!r} watches field {rule.field!r}, which telemetry does not declare")
        return self

    @property
    def offline_after_s(self) -> float:
        return self.reporting_interval_s * self.offline_tolerance


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_profile(path: Path) -> DeviceProfile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile is a mapping of keys, got {type(raw).__name__}")
    try:
        profile = DeviceProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"{path}: {problems}") from None
    if profile.kind != path.stem:
        raise ProfileError(f"{path}: kind {profile.kind!r} must match the file name {path.stem!r}")
    return profile


@cache
def load_profiles(directory: Path = DEFAULT_PROFILES_DIR) -> dict[str, DeviceProfile]:
    """Every ``*.yaml`` profile in `directory`, by kind; the first bad file stops the load."""
    if not directory.is_dir():
        raise ProfileError(f"device profile directory {directory} does not exist")
    profiles = {p.stem: load_profile(p) for p in sorted(directory.glob("*.yaml"))}
    if not profiles:
        raise ProfileError(f"no device profiles (*.yaml) in {directory}")
    return profiles
