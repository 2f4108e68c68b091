"""Item 1: no published secret works, none has a usable default, and the gateway account is least privilege."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.reasoncodes import ReasonCode

from civicgrid import local_secrets
from civicgrid.settings import Settings, StackSettings
from civicgrid.stack import LocalStack
from tests.support.mqtt import MqttTestClient

NOT_AUTHORIZED = 135  # MQTT 5 PUBACK reason code 0x87
OLD_JWT_DEFAULT = "civicgrid-dev-jwt-secret-change-me-0123456789"  # published in README and docs until now


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("CIVICGRID_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_secret_has_a_default(clean_env: Path) -> None:
    s = Settings()
    assert s.api.jwt_secret is None
    assert s.mqtt.password is None
    assert local_secrets.current(s, local_secrets.DB_ROLE) is None
    with pytest.raises(local_secrets.InsecureSecret, match=r"api\.jwt_secret is not set"):
        local_secrets.check(s, local_secrets.JWT)


def test_the_local_stack_generates_private_random_secrets_once(clean_env: Path) -> None:
    base = Settings(stack=StackSettings(var_dir=clean_env / "var"))
    first = local_secrets.with_local_secrets(base, create=True)
    again = local_secrets.with_local_secrets(base)
    values = [local_secrets.current(first, spec) for spec in local_secrets.ALL]
    assert values == [local_secrets.current(again, spec) for spec in local_secrets.ALL]
    assert len(set(values)) == 3 and all(len(v) >= 40 for v in values)
    for spec in local_secrets.ALL:
        mode = stat.S_IMODE((clean_env / "var" / "secrets" / spec.name).stat().st_mode)
        assert mode == 0o600, (spec.name, oct(mode))
    assert first.db.url.get_secret_value().startswith("postgresql://civicgrid:")
    local_secrets.check(first, *local_secrets.ALL)
    # A secret that is set is never replaced by the generated one.
    mine = Settings(stack=StackSettings(var_dir=clean_env / "var"), api={"jwt_secret": "x" * 40})
    assert local_secrets.with_local_secrets(mine).api.jwt_secret.get_secret_value() == "x" * 40


@pytest.mark.parametrize(("command", "env", "says"), [
    ("api", {"CIVICGRID_API__JWT_SECRET": OLD_JWT_DEFAULT}, "api.jwt_secret is a value published"),
    ("api", {"CIVICGRID_API__JWT_SECRET": "short-secret"}, "api.jwt_secret is shorter than 24"),
    ("api", {}, "api.jwt_secret is not set"),
    ("gateway", {"CIVICGRID_MQTT__PASSWORD": "civicgrid-dev-gateway"}, "mqtt.password is a value published"),
    ("worker", {"CIVICGRID_DB__URL": "postgresql://civicgrid:civicgrid-dev@127.0.0.1:1/civicgrid"},
     "password in db.url is a value published"),
])
def test_services_refuse_to_start_with_a_missing_short_or_published_secret(
        clean_env: Path, command: str, env: dict[str, str], says: str) -> None:
    env = {"CIVICGRID_STACK__VAR_DIR": str(clean_env / "empty-var"), **env}
    done = subprocess.run([sys.executable, "-m", "civicgrid.cli", command], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "refusing to start" in done.stderr and says in " ".join(done.stderr.split()), done.stderr[-2000:]


def test_a_token_signed_with_the_old_published_secret_is_refused(client: TestClient, org: dict[str, int]) -> None:
    now = datetime.now(UTC)
    forged = jwt.encode({"sub": str(org["api-admin"]), "name": "api-admin", "role": "admin", "iat": now,
                         "exp": now + timedelta(hours=1)}, OLD_JWT_DEFAULT, algorithm="HS256")
    r = client.get("/users", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401, r.text


def test_the_gateway_account_reads_device_channels_and_writes_only_commands(stack: LocalStack, provision) -> None:
    settings = stack.settings
    device_id, secret = provision("bin-sensor")
    gateway = MqttTestClient(settings.mqtt.host, settings.mqtt.port, settings.mqtt.username,
                             settings.mqtt.password.get_secret_value())
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    assert not gateway.connect().is_failure and not device.connect().is_failure
    try:
        gateway.subscribe(f"cg/{device_id}/+")
        device.subscribe(f"cg/{device_id}/cmd")
        # Forging a device's telemetry is refused; a command to it is allowed and arrives.
        forged = gateway.publish(f"cg/{device_id}/telemetry", b'{"seq":1,"fill_pct":99}')
        assert forged == ReasonCode(2, identifier=NOT_AUTHORIZED) or forged.value == NOT_AUTHORIZED
        assert gateway.publish(f"cg/{device_id}/cmd", b'{"name":"ping"}').value == 0
        assert device.next_message().topic == f"cg/{device_id}/cmd"
        # The device's own telemetry still reaches the gateway.
        assert device.publish(f"cg/{device_id}/telemetry", b'{"seq":1,"fill_pct":40}').value == 0
        topics = set()
        while (msg := gateway.next_message()).topic != f"cg/{device_id}/telemetry":
            topics.add(msg.topic)
        assert topics <= {f"cg/{device_id}/cmd"}
    finally:
        gateway.close()
        device.close()


def test_a_device_cannot_take_the_gateway_s_account_name(stack: LocalStack) -> None:
    from civicgrid.broker.provisioning import add_device

    with pytest.raises(ValueError, match="gateway's MQTT service account"):
        add_device(stack.settings, stack.settings.mqtt.username, "bin-sensor", broker=stack.mosquitto.files)


def test_a_device_row_named_like_the_gateway_gets_no_account(stack: LocalStack, db) -> None:
    """Registered behind the CLI's back (SQL): the broker keeps only the gateway's own account."""
    from civicgrid.broker import hash_secret
    from civicgrid.broker.probe import mqtt_login

    settings = stack.settings
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash) VALUES (%s, 'bin-sensor', 'bin-sensor', %s)",
               (settings.mqtt.username, hash_secret("a-device-secret-of-its-own")))
    try:
        stack.reload_broker_accounts()
        time.sleep(0.5)
        host, port = settings.mqtt.host, settings.mqtt.port
        assert mqtt_login(host, port, settings.mqtt.username, "a-device-secret-of-its-own") != "ok"
        assert mqtt_login(host, port, settings.mqtt.username, settings.mqtt.password.get_secret_value()) == "ok"
    finally:
        db.execute("DELETE FROM devices WHERE id = %s", (settings.mqtt.username,))
        stack.reload_broker_accounts()


def test_every_command_reads_the_secrets_the_local_stack_made(clean_env: Path, monkeypatch) -> None:
    """`make run` starts `civicgrid city load` and the services as new processes with no secret in their
    environment: each must find the stack's (a fresh var/ once failed here: "no password supplied")."""
    from civicgrid.settings import load_settings

    made = local_secrets.with_local_secrets(Settings(stack=StackSettings(var_dir=clean_env / "var")), create=True)
    monkeypatch.setenv("CIVICGRID_STACK__VAR_DIR", str(clean_env / "var"))
    loaded = load_settings()
    for spec in local_secrets.ALL:
        assert local_secrets.current(loaded, spec) == local_secrets.current(made, spec)
    env = {**os.environ, "CIVICGRID_STACK__VAR_DIR": str(clean_env / "var")}
    done = subprocess.run([sys.executable, "-c", "from simulators.cli import _settings; "
                           "print(_settings().db.url.get_secret_value())"], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == made.db.url.get_secret_value()
