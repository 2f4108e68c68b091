"""``civicgrid notifier``: the service that tells callers their case closed, and ``resend``, an admin's way to send
failed notifications again once the receiver is fixed (docs/notify.md). Imports of the service and the database
happen inside the commands, so ``--help`` stays fast."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from civicgrid import command_settings

notifier_app = typer.Typer(help="Without a command: tell callers who asked for a callback that their case closed "
                                "(signed webhook POST), reading case events from Kafka, until Ctrl-C; needs "
                                "notify.webhook_url and notify.webhook_secret (docs/notify.md). `resend`: send failed "
                                "notifications again.")
console = Console(stderr=True)


@notifier_app.command("resend")
def notifier_resend(
    reason: Annotated[str, typer.Option(help="Why, kept with each resend (e.g. the receiver is fixed); required")],
    ids: Annotated[list[int] | None, typer.Argument(help="Notification ids (GET /notifications?status=failed)")] = None,
    case: Annotated[str | None, typer.Option(help="Every failed notification of this case (case number or id)")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed notification")] = False,
) -> None:
    """Put failed notifications back in the queue, each recorded with who (cli:<login>), when and why, and the
    attempts and error it had failed with; the running notifier delivers them with their retries from zero. Prints
    one line per notification; exits 1 when one named could not be resent (it is sent, pending, or unknown)."""
    from civicgrid.notify.outbox import RESENT, failed_ids, resend
    from civicgrid.store.db import connect

    if not ids and case is None and not all_failed:
        console.print("[bold red]error:[/] name notification ids, --case or --all-failed", highlight=False)
        raise typer.Exit(2)
    settings = command_settings.current()
    with connect(settings.db, autocommit=True) as conn:
        chosen = list(ids or [])
        if case is not None:
            row = conn.execute("SELECT id::text FROM cases WHERE case_no = %s OR id::text = %s",
                               (case, case)).fetchone()
            if row is None:
                console.print(f"[bold red]error:[/] no case {case}", highlight=False)
                raise typer.Exit(1)
            chosen += failed_ids(conn, row[0])
        if all_failed:
            chosen += failed_ids(conn)
        chosen = list(dict.fromkeys(chosen))
        if not chosen:
            console.print("no failed notification to send again", highlight=False)
            return
        try:
            outcome = resend(conn, chosen, f"cli:{getpass.getuser()}", reason, datetime.now(UTC))
        except ValueError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    refused = 0
    for nid, result in outcome.items():
        if result == RESENT:
            typer.echo(f"{nid}: resent")
        else:
            refused += 1
            typer.echo(f"{nid}: {result}, not failed — not resent")
    if refused:
        raise typer.Exit(1)
