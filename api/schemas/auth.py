"""Token and user bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.api_keys import Scope
from civicgrid.domain.case_state import Role


class Token(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "token_type": "bearer", "expires_in": 28800}]})

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "username": "sanitation1", "role": "department", "department_id": "sanitation", "display_name": "环卫处 张三",
        "password": "correct-horse-battery"}]})

    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    role: Role
    department_id: Annotated[str, Field(max_length=100)] | None = None
    responsibility_grid_id: Annotated[str, Field(max_length=100)] | None = None
    display_name: Annotated[str, Field(max_length=200)] | None = None
    password: Annotated[str, Field(min_length=8, max_length=200)] | None = Field(
        None, description="generated and returned once when omitted")
    centre_id: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="a district centre's staff see and act within it; omitted: the whole city")


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"password": "correct-horse-battery"}]})

    password: Annotated[str, Field(min_length=8, max_length=200)] | None = Field(
        None, description="generated and returned once when omitted")


class PasswordChanged(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 3, "username": "sanitation1",
                                                               "password": "generated-once"}]})

    id: int
    username: str
    password: str | None = Field(None, description="the generated password, shown once (none when one was given)")


class UserPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "username": "sanitation1", "role": "department", "department_id": "sanitation",
        "responsibility_grid_id": None, "display_name": "环卫处 张三"}]})

    id: int
    username: str
    role: Role
    department_id: str | None
    responsibility_grid_id: str | None
    display_name: str | None
    centre_id: str | None = None


class UserCreated(UserPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "username": "sanitation1", "role": "department", "department_id": "sanitation",
        "responsibility_grid_id": None, "display_name": None, "password": "generated-once"}]})

    password: str = Field(description="shown once")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"user_id": 5, "name": "12345 hotline"}]})

    user_id: int = Field(ge=1, le=2**62)
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=2, description=(
        "open311: Open311 intake only (the default); api: every route, as the key's user"))] = ["open311"]
    expires_in_days: Annotated[float, Field(gt=0, le=3650)] | None = Field(None, description="default: never")


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 3, "api_key": "cgk_x7…", "user_id": 5,
                                                               "name": "12345 hotline", "scopes": ["open311"],
                                                               "expires_at": None}]})

    id: int
    api_key: str = Field(description="shown once; send as X-Api-Key, or as Open311 api_key")
    user_id: int
    name: str
    scopes: list[Scope]
    expires_at: datetime | None


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    user_id: int
    username: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    enabled: bool = Field(description="false: the user's tokens, keys and live feeds stop working at once")
