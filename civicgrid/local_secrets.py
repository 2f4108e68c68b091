"""The platform's secrets: none has a usable default, and the local stack makes its own.

Three secrets (docs/security.md says what each protects):
- ``api.jwt_secret``: signs every API token;
- ``mqtt.password``: the gateway's MQTT service account;
- the password in ``db.url``: the application's database role.

In production each comes from the environment or the TOML file. For the local
stack, the first ``civicgrid stack up`` (or ``make run``) generates every unset
one into ``<var>/secrets/<name>`` (mode 0600, beside PostgreSQL's superuser
password), and every command run against that ``var`` directory reads them
there. A service refuses to start with a secret that is missing, shorter than
``MIN_LENGTH``, or one this project once published as a default.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import SecretStr

from civicgrid.settings import Settings

MIN_LENGTH = 24
# Defaults that README, docs and code once carried: anyone who read them could use them.
PUBLISHED = frozenset({
    "civicgrid-dev-jwt-secret-change-me-0123456789", "civicgrid-dev-gateway", "civicgrid-dev",
    "civicgrid-test", "gateway-test-secret",
})


class InsecureSecret(RuntimeError):
    """A service was started with a secret that is missing, too short or published."""


@dataclass(frozen=True, slots=True)
class SecretSpec:
    name: str  # file name under <var>/secrets/
    setting: str  # the setting, as written in TOML
    env: str  # the environment variable that sets it


JWT = SecretSpec("api-jwt", "api.jwt_secret", "CIVICGRID_API__JWT_SECRET")
GATEWAY_MQTT = SecretSpec("mqtt-gateway", "mqtt.password", "CIVICGRID_MQTT__PASSWORD")
DB_ROLE = SecretSpec("db-app", "password in db.url", "CIVICGRID_DB__URL")
ALL = (JWT, GATEWAY_MQTT, DB_ROLE)


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def secrets_dir(settings: Settings) -> Path:
    return settings.stack.var_dir / "secrets"


def current(settings: Settings, spec: SecretSpec) -> str | None:
    """The secret's value in `settings`, or None when unset."""
    if spec is JWT:
        return settings.api.jwt_secret.get_secret_value() if settings.api.jwt_secret else None
    if spec is GATEWAY_MQTT:
        return settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
    return urlsplit(settings.db.url.get_secret_value()).password


def with_local_secrets(settings: Settings, *, create: bool = False) -> Settings:
    """`settings` with every unset secret read from ``<var>/secrets/`` (generated there first when `create`).

    A secret that is set (environment, TOML, code) is never replaced.
    """
    directory = secrets_dir(settings)
    found: dict[SecretSpec, str] = {}
    for spec in ALL:
        if current(settings, spec) is not None:
            continue
        path = directory / spec.name
        if not path.exists() and create:
            _write_private(path, new_secret())
        if path.exists():
            found[spec] = path.read_text().strip()
    if not found:
        return settings
    update: dict[str, object] = {}
    if JWT in found:
        update["api"] = settings.api.model_copy(update={"jwt_secret": SecretStr(found[JWT])})
    if GATEWAY_MQTT in found:
        update["mqtt"] = settings.mqtt.model_copy(update={"password": SecretStr(found[GATEWAY_MQTT])})
    if DB_ROLE in found:
        update["db"] = settings.db.model_copy(update={"url": SecretStr(_with_password(
            settings.db.url.get_secret_value(), found[DB_ROLE]))})
    return settings.model_copy(update=update)


def check(settings: Settings, *specs: SecretSpec) -> None:
    """Refuse to go on with a missing, short or published secret; the message says how to set it."""
    problems = []
    for spec in specs:
        value = current(settings, spec)
        if value is None:
            problems.append(f"{spec.setting} is not set")
        elif value in PUBLISHED:
            problems.append(f"{spec.setting} is a value published in civicgrid's docs; anyone can use it")
        elif len(value) < MIN_LENGTH:
            problems.append(f"{spec.setting} is shorter than {MIN_LENGTH} characters")
        else:
            continue
        problems[-1] += (f" (set {spec.env}, or the TOML file; for the local stack `civicgrid stack up` "
                         f"generates one in {secrets_dir(settings) / spec.name})")
    if problems:
        raise InsecureSecret("refusing to start: " + "; ".join(problems))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(parts.username or 'civicgrid', safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
