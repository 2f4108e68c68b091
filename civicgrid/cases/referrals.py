"""What a case keeps of a leader's instruction (领导批示) and of a transfer from another body (转办), whether the
report is filed as a new case (api/routes/intake.py) or linked to the open case it repeats
(api/routes/duplicates.py): one shape in both, so the case's evidence reads the same either way.

An instruction keeps who gave it, its words and who recorded it (an operator writing down one that came by phone
or on paper, or the leader); it puts no one on the case's callers when filed, and a linked one is kept as a caller
(channel ``leader``) without a callback, like every linked report. A transfer keeps the body and that body's
reference; the body is the case's caller (its reference as the account), told when the case closes if it asked
(办结反馈), exactly as a citizen who called.
"""

from __future__ import annotations

from typing import Any

from civicgrid.cases.callers import Caller

__all__ = ["instruction_evidence", "transfer_caller", "transfer_evidence"]


def instruction_evidence(leader: str, text: str, recorded_by: str) -> dict[str, Any]:
    return {"instruction": {"leader": leader, "text": text, "recorded_by": recorded_by}}


def transfer_evidence(from_body: str, reference: str) -> dict[str, Any]:
    return {"transfer": {"from_body": from_body, "reference": reference}}


def transfer_caller(from_body: str, reference: str, phone: str | None, *, client: str, callback: bool,
                    description: str | None) -> Caller:
    """The transferring body as the case's caller: reached at its contact phone, its reference as the account."""
    return Caller("transfer", from_body, phone, account_id=reference, client=client, callback=callback,
                  description=description)
