"""Centres on levels (civicgrid/domain/centres.py): the tree's checks, what a centre reaches, where a case goes."""

from __future__ import annotations

import pytest

from api.queries.scope import scope_of
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.centres import (
    Centre,
    CentreLevel,
    CentreTree,
    InvalidCentres,
    escalation_target,
    transfer_target,
)

CITY = Centre("changzhou", "常州市数字城管监督指挥中心", CentreLevel.CITY, "3204")
TIANNING = Centre("tianning", "天宁区指挥中心", CentreLevel.DISTRICT, "320402", "changzhou")
ZHONGLOU = Centre("zhonglou", "钟楼区指挥中心", CentreLevel.DISTRICT, "320404", "changzhou")
HONGMEI = Centre("hongmei", "红梅街道", CentreLevel.STREET, "320402005", "tianning")
TREE = CentreTree([CITY, TIANNING, ZHONGLOU, HONGMEI])


def test_a_district_reaches_itself_and_its_streets_and_the_top_reaches_everything() -> None:
    assert TREE.within("tianning") == {"tianning", "hongmei"}
    assert TREE.within("hongmei") == {"hongmei"}
    assert TREE.within("changzhou") is None  # the root: the whole city, unplaced cases too
    assert TREE.within(None) is None


def test_escalation_goes_one_level_up_and_stops_at_the_top() -> None:
    assert escalation_target(TREE, "hongmei") == "tianning"
    assert escalation_target(TREE, "tianning") == "changzhou"
    for top in ("changzhou", None):
        with pytest.raises(InvalidCentres, match="no level above"):
            escalation_target(TREE, top)


def test_a_transfer_names_another_existing_centre() -> None:
    assert transfer_target(TREE, "tianning", "zhonglou") == "zhonglou"
    with pytest.raises(InvalidCentres, match="already"):
        transfer_target(TREE, "tianning", "tianning")
    with pytest.raises(InvalidCentres, match="no centre 'wujin'"):
        transfer_target(TREE, "tianning", "wujin")


@pytest.mark.parametrize(("centres", "message"), [
    ([CITY, Centre("x", "x", CentreLevel.DISTRICT, "320501", "changzhou")], "not inside its parent"),
    ([CITY, Centre("x", "x", CentreLevel.DISTRICT, "3204", "changzhou")], "not inside its parent"),
    ([CITY, Centre("x", "x", CentreLevel.CITY, "320402", "changzhou")], "cannot be under"),
    ([CITY, Centre("x", "x", CentreLevel.DISTRICT, "320402", "nowhere")], "parent 'nowhere' is not a centre"),
    ([CITY, Centre("suzhou", "苏州", CentreLevel.CITY, "3205")], "one centre is the top"),
    ([CITY, CITY], "listed twice"),
    ([Centre("x", "x", CentreLevel.CITY, "32a")], "not digits"),
])
def test_centres_that_do_not_nest_are_refused_with_the_centre_named(centres: list[Centre], message: str) -> None:
    with pytest.raises(InvalidCentres, match=message):
        CentreTree(centres)


def test_a_district_user_s_live_feed_admits_only_its_centres_and_an_admin_s_everything() -> None:
    dispatcher = User(1, "tn-dispatcher", Role.DISPATCHER, None, None, centre_id="tianning")
    scope = scope_of(dispatcher, TREE.within("tianning"))
    assert scope.admits(None, None, "hongmei") and scope.admits(None, None, "tianning")
    assert not scope.admits(None, None, "zhonglou") and not scope.admits(None, None, None)
    admin = User(2, "root", Role.ADMIN, None, None, centre_id="tianning")
    assert scope_of(admin, TREE.within("tianning")).admits(None, None, "zhonglou")
    city = User(3, "cz-dispatcher", Role.DISPATCHER, None, None, centre_id="changzhou")
    assert scope_of(city, TREE.within("changzhou")).admits(None, None, None)
