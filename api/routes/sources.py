"""/sources: where cases come from, with their names — the one list the console's board filter, the intake screen
and statistics offer (civicgrid/domain/sources.py), so the console never sends a source the API refuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import ANY_ROLE, require
from api.schemas.intake import SourcePublic
from api.users import User
from civicgrid.domain.sources import SOURCE_NAMES

router = APIRouter(prefix="/sources", tags=["cases"])


@router.get("", summary="The case sources (the `source` of a case and of the /cases filter), with their names")
def list_sources(user: Annotated[User, Depends(require(*ANY_ROLE))]) -> list[SourcePublic]:
    return [SourcePublic(code=s.code.value, name=s.name, name_en=s.name_en, description=s.description)
            for s in SOURCE_NAMES]
