"""Chinese addresses as people say them, brought to one written form (geocoding, CJ/T 215 地理编码).

A caller says "舒城县城关镇人民路十二号3单元", a door plate reads "人民路12号", a clerk types "人民路１２號":
the same place. `normalize` makes them one string: full-width forms become half-width (NFKC), traditional
and variant characters of the address vocabulary their common form (號 → 号, 幢/座 → 栋), Chinese numerals
before an address unit become Arabic ones (cn2an: 十二号 → 12号), spaces and punctuation go, and the
administrative prefixes people leave out (province, city, county, street; the city's own names, passed in)
are stripped, so that "舒城县人民路12号" and "人民路12号" meet. A town or street-office name the city did not
configure (桃溪镇…, …乡, …街道) is stripped too when it comes first and a road follows it.

`parse` then reads the parts a geocoder matches on (road, lane, house number, building, unit, room), and `grams`
gives the character bigrams the address database is searched by: Chinese has no spaces between words, so
bigrams (as in Lucene's CJK analyser) stand in for words, and they work whatever the database's locale.
Pure: no database, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import cn2an

# Variant characters of the address vocabulary → the form door plates use.
_VARIANTS = str.maketrans({"號": "号", "幢": "栋", "棟": "栋", "座": "栋", "單": "单", "衖": "弄", "衕": "同",
                           "〇": "零", "－": "-", "—": "-", "–": "-", "之": "-"})
# A Chinese numeral right before an address unit (号, 弄, 巷, 栋, 单元, 室, 层, 楼, 组): the unit's number.
_UNIT_NUMERAL = re.compile(r"([零一二三四五六七八九十百千两]+)(?=号|弄|巷|栋|单元|室|层|楼|组|-\S*号)")
# What is neither a letter, a digit, a CJK character nor the hyphen of "12-3号" goes.
_NOISE = re.compile(r"[^\w\-]|_", re.UNICODE)
# Leading administrative divisions a caller may say or leave out; stripped in order, each at most once.
_DIVISIONS = re.compile(r"^(?:.{2,7}?(?:省|自治区))?(?:.{2,7}?(?:市|自治州|地区|盟))?(?:.{1,7}?(?:县|区|旗))?")
# A leading town (镇), township (乡) or street office (街道) the city did not name: stripped when what follows is not
# the rest of a road's own name (新镇路, 水乡大道 keep theirs).
_TOWN = re.compile(r"^\D{1,6}?(?:镇|乡|街道)(?!路|街|道|巷|弄|胡同|大道|$)(?=\D{2})")

# Shanghai-style: a lane (弄, also 巷) numbered off its road, the house numbered within the lane: 人民路100弄5号.
_PARTS = re.compile(
    r"^(?P<road>.*?(?:大道|路|街|巷|弄|道|胡同)(?=\d|$))?"
    r"(?:(?P<lane>\d+)(?:弄|巷))?"
    r"(?:(?P<number>\d+)(?:-(?P<sub>\d+))?号)?"
    r"(?P<rest>.*)$")
_BUILDING = re.compile(r"(\d+)栋")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d+)室")


def _arabic(match: re.Match[str]) -> str:
    try:
        return str(cn2an.cn2an(match.group(1), "smart"))
    except ValueError:  # not a numeral after all (a name that happens to use these characters)
        return match.group(1)


def normalize(text: str, prefixes: Iterable[str] = ()) -> str:
    """The one written form of an address (module docstring). `prefixes`: the city's own place names a caller may
    put first (its province, city, county and street names); the generic divisions are stripped too."""
    out = unicodedata.normalize("NFKC", text).translate(_VARIANTS)
    out = _NOISE.sub("", out)
    out = _UNIT_NUMERAL.sub(_arabic, out)
    names = sorted({unicodedata.normalize("NFKC", p) for p in prefixes if p}, key=len, reverse=True)
    stripped = True
    while stripped:  # "安徽省六安市舒城县…": each name it starts with, in whatever order they were given
        stripped = False
        for name in names:
            if out.startswith(name) and len(out) > len(name):
                out, stripped = out[len(name):], True
    return _TOWN.sub("", out, count=1).lower()


def strip_divisions(norm: str) -> str:
    """`norm` without leading province/city/county words (for a city that named none of its own)."""
    stripped = _DIVISIONS.sub("", norm, count=1)
    return stripped or norm


@dataclass(frozen=True, slots=True)
class AddressParts:
    road: str | None
    number: int | None
    sub_number: int | None
    building: int | None
    unit: int | None
    room: int | None
    lane: int | None = None  # 人民路100弄5号: lane 100 of 人民路, house 5 in it

    @property
    def street(self) -> str | None:
        """What house numbers count along: the road, or the lane off it (人民路100弄), whose houses are numbered
        within it."""
        if self.road is not None and self.lane is not None:
            return f"{self.road}{self.lane}弄"
        return self.road

    def plate(self) -> tuple[str | None, int | None]:
        """The (street, number) a door plate of this address carries: the house in its lane, or for a lane named
        without a house its entrance, which is the lane's number on the road (人民路100弄 where 100号 would be)."""
        if self.lane is not None and self.number is None:
            return self.road, self.lane
        return self.street, self.number

    def entrance(self) -> tuple[str | None, int] | None:
        """The lane's entrance on its road for a house in a lane (the place to fall back on when the lane's own
        door plates are not in the database); None for an address not in a lane."""
        if self.lane is not None and self.number is not None:
            return self.road, self.lane
        return None


def parse(norm: str) -> AddressParts:
    """The parts of a normalised address a geocoder matches on (None where the address has none)."""
    m = _PARTS.match(norm)
    assert m is not None  # every part is optional
    rest = m.group("rest") or ""
    road = m.group("road") or None
    return AddressParts(road=road,
                        number=int(m.group("number")) if m.group("number") else None,
                        sub_number=int(m.group("sub")) if m.group("sub") else None,
                        building=_first_int(_BUILDING, rest), unit=_first_int(_UNIT, rest),
                        room=_first_int(_ROOM, rest),
                        lane=int(m.group("lane")) if m.group("lane") and road else None)


def _first_int(pattern: re.Pattern[str], text: str) -> int | None:
    m = pattern.search(text)
    return int(m.group(1)) if m else None


def grams(norm: str) -> set[str]:
    """Character bigrams of a normalised address (one-character addresses: the character)."""
    if len(norm) < 2:
        return {norm} if norm else set()
    return {norm[i:i + 2] for i in range(len(norm) - 1)}
