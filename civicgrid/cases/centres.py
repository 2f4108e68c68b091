"""What centres mean for a case action (docs/centres.md): escalation and transfer move the case, and a
district's dispatcher dispatches only to the disposal bodies of its district.

Called by `actions.act` inside its transaction, after the row lock: `prepare_move` fills the event's data
(from which centre to which), `move` writes the case's centre before the event row is written, so the live
feed's trigger files the event under the centre that now holds the case.
"""

from __future__ import annotations

from typing import Any

import psycopg

from civicgrid.cases.errors import OutOfReach
from civicgrid.domain.case_state import Action
from civicgrid.domain.centres import InvalidCentres, escalation_target, transfer_target
from civicgrid.store import centres as store

MOVES = frozenset({Action.ESCALATE, Action.TRANSFER})


def prepare_move(conn: psycopg.Connection, case_id: str, action: Action, data: dict[str, Any]) -> dict[str, Any]:
    """The event's data of an escalation or transfer: `from_centre` and `centre` (None: the top)."""
    tree = store.read_tree(conn)
    current = store.case_centre(conn, case_id)
    try:
        if action is Action.ESCALATE:
            target = escalation_target(tree, current)
        else:
            target = transfer_target(tree, current, str(data.get("centre") or ""))
    except InvalidCentres as exc:
        raise OutOfReach(str(exc)) from None
    return {**data, "from_centre": current, "centre": target}


def move(conn: psycopg.Connection, case_id: str, centre: str | None) -> None:
    conn.execute("UPDATE cases SET centre_id = %s WHERE id = %s", (centre, case_id))


def check_dispatch(conn: psycopg.Connection, actor: str, department_id: str) -> None:
    """A dispatcher of a district centre sends cases to the bodies of that district (and its streets); the top's
    dispatchers send anywhere. A case for a city-level body goes up first (escalate)."""
    tree = store.read_tree(conn)
    if not tree:
        return
    reach = tree.within(store.user_centre(conn, actor))
    if reach is None:
        return
    department_centre = store.department_centre(conn, department_id)
    if department_centre not in reach:
        where = "the city level" if department_centre is None else f"centre {department_centre}"
        raise OutOfReach(f"department {department_id} belongs to {where}, outside this dispatcher's centre: "
                         "escalate the case (上报上级) or transfer it (转办) to the centre that dispatches to it")
