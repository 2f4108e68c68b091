"""Service start-up refuses clearly when it cannot work (no services are started here)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from civicgrid.settings import MqttSettings, Settings, StackSettings
from civicgrid.stack.kafka import KafkaService, cluster_id
from civicgrid.stack.mosquitto import MosquittoService
from civicgrid.stack.process import StackError


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


def test_missing_kafka_jars_say_run_make_setup(tmp_path: Path) -> None:
    settings = Settings(stack=StackSettings(var_dir=tmp_path, kafka_libs=tmp_path / "no-libs"))
    with pytest.raises(StackError, match="make setup"):
        KafkaService(settings).start()


def test_taken_controller_port_names_its_setting(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = Settings(stack=StackSettings(var_dir=tmp_path, kafka_controller_port=port))
        with pytest.raises(StackError, match=rf"port {port} .* CIVICGRID_STACK__KAFKA_CONTROLLER_PORT"):
            KafkaService(settings).start()


def test_server_properties_one_kraft_node_on_the_configured_ports(tmp_path: Path) -> None:
    settings = Settings(stack=StackSettings(var_dir=tmp_path, kafka_controller_port=19999, kafka_segment_mb=8))
    props = dict(line.split("=", 1) for line in KafkaService(settings).server_properties().splitlines()
                 if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19999"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:18092,SSL://127.0.0.1:18095,CONTROLLER://127.0.0.1:19999"
    assert props["ssl.keystore.type"] == "PEM"
    assert props["log.dirs"] == str((tmp_path / "kafka" / "data").resolve())
    assert props["log.segment.bytes"] == str(8 * 1024 * 1024)
    assert props["auto.create.topics.enable"] == "false"


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """kafka-storage would read `--cluster-id -…` as an option and refuse to format (a 1 in 64 draw)."""
    import uuid

    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" + bytes(15))])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert cluster_id() == "EAAAAAAAAAAAAAAAAAAAAA"


def test_cluster_ids_are_22_url_safe_characters_and_fresh() -> None:
    ids = {cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
               for i in ids)
