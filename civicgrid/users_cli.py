"""``civicgrid users`` and ``civicgrid api-keys``: the API's accounts from the command line (the first admin,
passwords, disabling a user at once) and the integrations' API keys (listing, revoking).

``users_app`` and ``keys_app`` are added by civicgrid/cli.py; the API's user and key code and the database
are imported inside the commands, so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicgrid import command_settings
from civicgrid.command_settings import fail

users_app = typer.Typer(help="API users: operators, dispatchers, departments, inspectors, leaders, admins.",
                        no_args_is_help=True)
keys_app = typer.Typer(help="API keys of integrations (12319 hotline systems): list, revoke.", no_args_is_help=True)
console = Console(stderr=True)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="operator, dispatcher, department, inspector, shift_leader, leader "
                                           "or admin.")],
    department: Annotated[str | None, typer.Option(help="Department id (role department).")] = None,
    grid: Annotated[str | None, typer.Option(help="Responsibility grid id (role inspector).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    centre: Annotated[str | None, typer.Option(help="Centre id: a district centre's staff see and act within it "
                                                    "(default: the whole city; docs/centres.md).")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin instead of generating one.")]
    = False,
) -> None:
    """Create an API user (e.g. the first admin); prints a generated password once."""
    from api.users import UserError, add_user

    password = sys.stdin.readline().strip() if password_stdin else None
    try:
        created_password = add_user(command_settings.current(), username, role, department_id=department,
                                    responsibility_grid_id=grid, display_name=display_name, password=password,
                                    centre_id=centre)
    except UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"user {username} ({role}) created")
    if not password_stdin:
        console.print("password (shown once):")
        print(created_password)


@users_app.command("password")
def users_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin instead of generating one.")]
    = False,
) -> None:
    """Set a user's password; prints a generated one once."""
    from api.users import UserError, set_password
    from civicgrid.store.db import connect

    given = sys.stdin.readline().strip() if password_stdin else None
    with connect(command_settings.current().db, autocommit=True) as conn:
        try:
            password = set_password(conn, username, given)
        except UserError as exc:
            raise fail(str(exc)) from None
    if password is None:
        raise fail(f"no user {username}")
    console.print(f"password of {username} set")
    if not password_stdin:
        console.print("password (shown once):")
        print(password)


def _set_user_enabled(username: str, enabled: bool) -> None:
    from api.users import set_user_enabled
    from civicgrid.store.db import connect

    with connect(command_settings.current().db, autocommit=True) as conn:
        if not set_user_enabled(conn, username, enabled):
            raise fail(f"no user {username}")
    console.print(f"user {username} {'enabled' if enabled else 'disabled: its tokens, keys and feeds stop now'}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user: their tokens, API keys and live feeds stop working at once."""
    _set_user_enabled(username, False)


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled user again."""
    _set_user_enabled(username, True)


@keys_app.command("list")
def api_keys_list() -> None:
    """Every API key (never the key itself): user, scopes, expiry, revocation, last use."""
    from api.api_keys import list_api_keys
    from civicgrid.store.db import connect

    with connect(command_settings.current().db, autocommit=True) as conn:
        rows = list_api_keys(conn)
    table = Table(title="API keys")
    for column in ("id", "name", "user", "scopes", "expires", "revoked", "last used"):
        table.add_column(column)
    for r in rows:
        times = (f"{r[k]:%Y-%m-%d %H:%M}" if r[k] else "-" for k in ("expires_at", "revoked_at", "last_used_at"))
        table.add_row(str(r["id"]), r["name"], r["username"], ",".join(r["scopes"]), *times)
    Console().print(table)


@keys_app.command("revoke")
def api_keys_revoke(key_id: int) -> None:
    """Revoke an API key at once."""
    from api.api_keys import revoke_api_key
    from civicgrid.store.db import connect

    with connect(command_settings.current().db, autocommit=True) as conn:
        if not revoke_api_key(conn, key_id):
            raise fail(f"no API key {key_id}")
    console.print(f"API key {key_id} revoked")
