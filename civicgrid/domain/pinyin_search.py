"""Search keys of Chinese names by pinyin: an operator types 暴露垃圾, "bllj" (the initials) or "baolu" (the full
pinyin) in the intake screen's category search. Precomputed once per catalogue with pypinyin; a heteronym gives
each of its readings (行道树: hds and xds), bounded so a long name with many heteronyms stays small."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin, pinyin

MAX_VARIANTS = 8


@dataclass(frozen=True, slots=True)
class PinyinKeys:
    initials: tuple[str, ...]  # first letters, every reading of a heteronym (at most MAX_VARIANTS)
    full: str  # the most likely reading, without tones or spaces


def pinyin_keys(name: str) -> PinyinKeys:
    """The search keys of `name`; characters that are not Chinese count as themselves (lower case)."""
    # Character by character: on a whole name pypinyin's phrase table settles a heteronym on one reading.
    letters = [sorted({r[0].lower() for readings in pinyin(ch, style=Style.FIRST_LETTER, heteronym=True,
                                                           errors="default") for r in readings if r}) or [""]
               for ch in name]
    likely = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")).lower()
    variants = [likely] + ["".join(p) for p in itertools.islice(itertools.product(*letters), 64)]
    initials = tuple(dict.fromkeys(v for v in variants if v))[:MAX_VARIANTS]
    full = "".join(lazy_pinyin(name, errors="default")).lower()
    return PinyinKeys(initials, full)
