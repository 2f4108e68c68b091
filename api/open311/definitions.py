"""Service definitions: the details (attributes) an Open311 service asks of a caller, and their checking.

A cover that is missing is urgent (class A), a damaged one is not; a road collapse that blocks traffic is handled
first. Those details are what the spec's service definitions are for: a service with attributes is listed with
``metadata: true`` and answers ``GET services/{code}.{fmt}`` with them; a POST names them as
``attribute[code]=value``. The table is a data file beside this module (service_attributes.yaml), keyed by a minor
or a major category code, read once and checked with the spec's own field names.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from civicgrid.domain.catalogue import Catalogue, UnknownCategory

DataType = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
LISTS = ("singlevaluelist", "multivaluelist")
MAX_VALUE_CHARS = 500


class AttributeValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    name: str


class Attribute(BaseModel):
    """One attribute, with the spec's fields (``variable`` is always true: each one is asked of the caller)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "variable": True, "code": "cover_state", "datatype": "singlevaluelist", "required": True,
        "datatype_description": None, "order": 1, "description": "井盖情况 What is wrong with the cover?",
        "values": [{"key": "missing", "name": "丢失 missing"}]}]})

    variable: bool = True
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    datatype: DataType
    required: bool = False
    datatype_description: str | None = None
    order: int = 0
    description: str
    values: list[AttributeValue] = []


_TABLE = TypeAdapter(dict[str, list[Attribute]])


class InvalidAttributes(ValueError):
    """A POST's attributes that do not fit the service's definition (answered 400 with this text)."""


@functools.cache
def attribute_table() -> Mapping[str, tuple[Attribute, ...]]:
    """The shipped table, each list numbered in its order (the spec's `order`); checked when first read."""
    text = resources.files("api.open311").joinpath("service_attributes.yaml").read_text(encoding="utf-8")
    table = _TABLE.validate_python(yaml.safe_load(text) or {})
    out = {}
    for code, attrs in table.items():
        for attr in attrs:
            if (attr.datatype in LISTS) != bool(attr.values):
                raise ValueError(f"service_attributes.yaml, {code}, {attr.code}: values go with the list types only")
        out[code] = tuple(a.model_copy(update={"order": n}) for n, a in enumerate(attrs, start=1))
    return out


def attributes_of(catalogue: Catalogue, code: str) -> tuple[Attribute, ...]:
    """A service's attributes: its own entry, else its major's; none for a category the catalogue lacks."""
    try:
        category = catalogue.get(code)
    except (UnknownCategory, ValueError):
        return ()
    table = attribute_table()
    return table.get(str(category.code)) or table.get(str(category.code.major_code)) or ()


def parse_attributes(attrs: Sequence[Attribute], form: Mapping[str, Sequence[str]]) -> dict[str, str | list[str]]:
    """The ``attribute[code]`` (``attribute[code][]`` for a multivaluelist) fields of a POST, checked against the
    definition: required ones present, list values among the keys, numbers and times parseable, no unknown code."""
    by_code = {a.code: a for a in attrs}
    given: dict[str, list[str]] = {}
    for name, values in form.items():
        if not name.startswith("attribute["):
            continue
        code = name.removeprefix("attribute[").removesuffix("[]").removesuffix("]")
        if code not in by_code:
            known = ", ".join(by_code) or "none"
            raise InvalidAttributes(f"{name}: this service has no attribute {code!r} (its attributes: {known})")
        given.setdefault(code, []).extend(v for v in values if v != "")
    out: dict[str, str | list[str]] = {}
    for attr in attrs:
        values = given.get(attr.code, [])
        if not values:
            if attr.required:
                raise InvalidAttributes(f"attribute[{attr.code}] is required: {attr.description}")
            continue
        if any(len(v) > MAX_VALUE_CHARS for v in values):
            raise InvalidAttributes(f"attribute[{attr.code}]: at most {MAX_VALUE_CHARS} characters")
        if attr.datatype != "multivaluelist" and len(values) > 1:
            raise InvalidAttributes(f"attribute[{attr.code}] takes one value, not {len(values)}")
        _check(attr, values)
        out[attr.code] = values if attr.datatype == "multivaluelist" else values[0]
    return out


def _check(attr: Attribute, values: list[str]) -> None:
    if attr.datatype in LISTS:
        keys = [v.key for v in attr.values]
        wrong = [v for v in values if v not in keys]
        if wrong:
            raise InvalidAttributes(f"attribute[{attr.code}]: {wrong[0]!r} is not one of {', '.join(keys)}")
    elif attr.datatype == "number":
        try:
            float(values[0])
        except ValueError:
            raise InvalidAttributes(f"attribute[{attr.code}]: {values[0]!r} is not a number") from None
    elif attr.datatype == "datetime":
        try:
            datetime.fromisoformat(values[0])
        except ValueError:
            raise InvalidAttributes(f"attribute[{attr.code}]: {values[0]!r} is not a W3C date-time, "
                                    "e.g. 2026-12-06T09:30:00+08:00") from None
