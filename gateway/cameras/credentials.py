"""Camera passwords from their references: the registry stores where a password is, never the password.

``env:VAR`` (an environment variable of the poller), ``file:PATH`` (the file's content, e.g. a
Kubernetes secret mounted as a file), ``secrets:KEY`` (a key of the JSON object in
``cameras.secrets_file``, mode 0600, which ``civicgrid city load`` writes for the simulated
cameras).  Passwords are never logged; errors name the reference, not the value.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson


class CredentialError(LookupError):
    """A password reference that cannot be resolved (the camera is reported, not polled)."""


def resolve_password(ref: str, secrets_file: Path | None) -> str:
    scheme, _, name = ref.partition(":")
    if not name:
        raise CredentialError(f"password reference {ref!r} has no name")
    if scheme == "env":
        value = os.environ.get(name)
        if value is None:
            raise CredentialError(f"environment variable {name} is not set")
        return value
    if scheme == "file":
        try:
            return Path(name).read_text().strip()
        except OSError as exc:
            raise CredentialError(f"cannot read password file {name}: {exc.strerror}") from None
    if scheme == "secrets":
        if secrets_file is None:
            raise CredentialError("cameras.secrets_file is not set")
        try:
            table = orjson.loads(secrets_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CredentialError(f"cannot read {secrets_file}: {exc}") from None
        if not isinstance(table, dict) or not isinstance(table.get(name), str):
            raise CredentialError(f"{secrets_file} has no password for {name}")
        return table[name]
    raise CredentialError(f"unknown password reference scheme {scheme!r} (env:, file:, secrets:)")
