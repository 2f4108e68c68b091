"""Mosquitto's password and ACL files: written atomically, readable by the broker, reloaded by SIGHUP.

Mosquitto started as root drops to the ``mosquitto`` user before it reads
these files (and again on every reload), so as root they are handed to that
user; otherwise it exits with code 13 (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
from collections.abc import Iterable
from pathlib import Path

from civicgrid.broker.accounts import BrokerAccount, render_acl_file, render_password_file

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"


def broker_user() -> pwd.struct_passwd | None:
    """The account Mosquitto drops to when started as root, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        return None


def write_private(path: Path, content: str | bytes, mode: int = 0o640, *, for_broker: bool = True) -> None:
    """Write `content` atomically with `mode`; owned by the broker's user when running as root (unless not
    `for_broker`: a file only civicgrid reads, such as the local CA's key)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content.encode() if isinstance(content, str) else content)
    tmp.chmod(mode)
    owner = broker_user() if for_broker else None
    if owner is not None:
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
    tmp.replace(path)


def write_broker_files(directory: Path, accounts: Iterable[BrokerAccount]) -> tuple[Path, Path]:
    accounts = list(accounts)
    directory.mkdir(parents=True, exist_ok=True)
    password_path, acl_path = directory / PASSWORD_FILE, directory / ACL_FILE
    write_private(password_path, render_password_file(accounts))
    write_private(acl_path, render_acl_file(accounts))
    return password_path, acl_path


def reload_broker(pid: int | None) -> bool:
    """Ask a running Mosquitto to re-read its password and ACL files (SIGHUP)."""
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGHUP)
        return True
    return False
