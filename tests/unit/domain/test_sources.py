"""Every case source has the names the console shows, in the enum's order (the one list, GET /sources)."""

from civicgrid.domain.case_state import Source
from civicgrid.domain.sources import SOURCE_NAMES, source_name


def test_every_source_has_names_in_the_enums_order() -> None:
    assert [s.code for s in SOURCE_NAMES] == list(Source)
    assert all(s.name and s.name_en and s.description for s in SOURCE_NAMES)
    assert source_name(Source.CAMERA) == "视频抓拍" and source_name("camera") == "视频抓拍"
    assert source_name("video") == "video"  # an unknown code is shown as it is, never an error
