"""`civicgrid devices add` as an operator runs it: registered, and the broker takes the login before it returns."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from civicgrid.broker.probe import mqtt_login
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment


def civicgrid(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "civicgrid.cli", *args], input=stdin, capture_output=True, check=False,
                          text=True, timeout=60, env={**os.environ, **as_environment(settings), "COLUMNS": "200"})


def test_devices_add_returns_once_the_broker_accepts_the_new_login(settings: Settings) -> None:
    device_id = f"bin-cli-{uuid.uuid4().hex[:8]}"
    done = civicgrid(settings, "devices", "add", device_id, "--kind", "bin-sensor")
    assert done.returncode == 0, done.stderr
    assert "the broker accepts its login" in done.stderr  # progress on stderr, the secret alone on stdout
    secret = done.stdout.strip()
    assert mqtt_login(settings.mqtt.host, settings.mqtt.port, device_id, secret) == "ok"
    assert mqtt_login(settings.mqtt.host, settings.mqtt.port, device_id, secret + "x") != "ok"


def test_devices_add_with_an_unknown_kind_fails_with_the_known_profiles(settings: Settings) -> None:
    done = civicgrid(settings, "devices", "add", f"x-{uuid.uuid4().hex[:8]}", "--kind", "toaster")
    assert done.returncode != 0
    assert "unknown device profile 'toaster'" in done.stdout + done.stderr
    assert "manhole-sensor" in done.stdout + done.stderr
