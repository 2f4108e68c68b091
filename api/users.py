"""API users: creation (CLI bootstrap and the admin endpoint), password hashing and checking.

Passwords are hashed with argon2id (argon2-cffi's defaults, the OWASP recommendation);
the hash carries its own parameters, so raising them later re-hashes on the next login.
A department handler must name a department and an inspector may name a responsibility
grid: that binding is the user's scope (a department sees only its cases).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from civicgrid.domain.case_state import Role
from civicgrid.settings import Settings
from civicgrid.store.db import connect

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a failed login the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class UserError(ValueError):
    """A user that cannot be created as asked (bad role, unknown department, duplicate name)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    department_id: str | None
    responsibility_grid_id: str | None
    display_name: str | None = None
    centre_id: str | None = None  # a district's staff; None: the top, the whole city (docs/centres.md)


USER_COLUMNS = "id, username, role, department_id, responsibility_grid_id, display_name, centre_id"


def user_from_row(row: tuple) -> User:
    return User(int(row[0]), row[1], Role(row[2]), row[3], row[4], row[5], row[6])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(conn: psycopg.Connection, username: str, role: str, *, department_id: str | None = None,
                responsibility_grid_id: str | None = None, display_name: str | None = None,
                password: str | None = None, centre_id: str | None = None) -> tuple[User, str]:
    """Insert a user; return it and its password (generated when None). Raises `UserError`."""
    try:
        role_value = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError("a username is 1-64 letters, digits, '-', '_' or '.'")
    if role_value is Role.DEPARTMENT and not department_id:
        raise UserError("a department user needs --department (the department it acts for)")
    if department_id and conn.execute("SELECT 1 FROM departments WHERE id = %s", (department_id,)).fetchone() is None:
        raise UserError(f"unknown department {department_id!r}")
    if responsibility_grid_id and conn.execute("SELECT 1 FROM responsibility_grids WHERE id = %s",
                                               (responsibility_grid_id,)).fetchone() is None:
        raise UserError(f"unknown responsibility grid {responsibility_grid_id!r}")
    if centre_id and conn.execute("SELECT 1 FROM centres WHERE id = %s", (centre_id,)).fetchone() is None:
        raise UserError(f"unknown centre {centre_id!r}")
    if password is not None and len(password) < 8:
        raise UserError("a password has at least 8 characters")
    password = password or secrets.token_urlsafe(12)
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO users (username, display_name, password_hash, role, department_id, "
                f"responsibility_grid_id, centre_id) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {USER_COLUMNS}",
                (username, display_name, hash_password(password), role_value.value, department_id,
                 responsibility_grid_id, centre_id),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise UserError(f"user {username!r} already exists") from None
    assert row is not None
    return user_from_row(row), password


def add_user(settings: Settings, username: str, role: str, *, department_id: str | None = None,
             responsibility_grid_id: str | None = None, display_name: str | None = None,
             password: str | None = None, centre_id: str | None = None) -> str:
    """`civicgrid users add`: create a user and return its password (generated when None)."""
    with connect(settings.db, autocommit=True) as conn:
        _, created = create_user(conn, username, role, department_id=department_id,
                                 responsibility_grid_id=responsibility_grid_id, display_name=display_name,
                                 password=password, centre_id=centre_id)
    return created


def authenticate(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None."""
    row = conn.execute(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s AND enabled",
                       (username,)).fetchone()
    try:
        _hasher.verify(row[-1] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row[-1]):
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(password), row[0]))
    return user_from_row(row[:-1])


def set_password(conn: psycopg.Connection, user: int | str, password: str | None = None) -> str | None:
    """Set a user's password (by id or name; generated when None) and return it; None when there is no such user.
    Raises `UserError` for a password under 8 characters."""
    if password is not None and len(password) < 8:
        raise UserError("a password has at least 8 characters")
    password = password or secrets.token_urlsafe(12)
    column = "id" if isinstance(user, int) else "username"
    # Tokens issued before this second stop working (get_user with the token's issue time).
    row = conn.execute(f"UPDATE users SET password_hash = %s, tokens_valid_after = date_trunc('second', now()) "
                       f"WHERE {column} = %s RETURNING id", (hash_password(password), user)).fetchone()
    return None if row is None else password


def set_user_enabled(conn: psycopg.Connection, user: int | str, enabled: bool) -> bool:
    """Disable or enable a user by id or name; False when there is none. Every request looks the user up
    (`get_user`, API keys), so a disabled user's tokens and keys stop working at once."""
    column = "id" if isinstance(user, int) else "username"
    return conn.execute(f"UPDATE users SET enabled = %s WHERE {column} = %s RETURNING id",
                        (enabled, user)).fetchone() is not None


def get_user(conn: psycopg.Connection, user_id: int, *, token_issued_at: datetime | None = None) -> User | None:
    """The enabled user; with `token_issued_at`, only if their password has not changed since (a change ends the
    tokens issued before it)."""
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s AND enabled AND (%s::timestamptz IS NULL "
                       "OR tokens_valid_after IS NULL OR tokens_valid_after <= %s)",
                       (user_id, token_issued_at, token_issued_at)).fetchone()
    return None if row is None else user_from_row(row)
