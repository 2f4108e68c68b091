"""Category search keys: initials (each reading of a heteronym), full pinyin, other characters as they are."""

import pytest

from civicgrid.domain.pinyin_search import MAX_VARIANTS, pinyin_keys


@pytest.mark.parametrize(("name", "initials", "full"), [
    ("暴露垃圾", "bllj", "baolulaji"),
    ("行道树", "hds", "xingdaoshu"),  # 行 háng: the reading the phrase table does not pick
    ("机动车乱停放", "jdcltf", "jidongcheluantingfang"),
    ("12319热线", "12319rx", "12319rexian"),
])
def test_keys(name: str, initials: str, full: str) -> None:
    keys = pinyin_keys(name)
    assert initials in keys.initials and keys.full == full
    assert 1 <= len(keys.initials) <= MAX_VARIANTS
