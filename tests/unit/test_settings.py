"""Settings: defaults, environment, TOML file and typo detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from civicgrid.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CIVICGRID_CONFIG", "CIVICGRID_MQTT__PORT", "CIVICGRID_DB__URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./civicgrid.toml unless a test writes one


def test_defaults_stay_off_the_standard_ports() -> None:
    s = Settings()
    assert (s.mqtt.port, s.kafka.bootstrap_servers) == (18883, "127.0.0.1:18092")
    assert ":18432/" in s.db.url.get_secret_value()
    assert s.stack.var_dir == Path("var")


def test_environment_overrides_nested_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_MQTT__PORT", "2883")
    assert Settings().mqtt.port == 2883


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "city.toml"
    config.write_text('[mqtt]\nport = 1999\nhost = "10.1.2.3"\n[kafka]\npartitions = 12\n')
    monkeypatch.setenv("CIVICGRID_MQTT__PORT", "2883")
    s = load_settings(config)
    assert (s.mqtt.host, s.mqtt.port, s.kafka.partitions) == ("10.1.2.3", 2883, 12)


def test_civicgrid_toml_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "civicgrid.toml").write_text("[kafka]\npartitions = 8\n")
    assert Settings().kafka.partitions == 8


def test_a_typo_in_the_file_names_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[mqtt]\nprot = 1\n")
    monkeypatch.setenv("CIVICGRID_CONFIG", str(config))
    with pytest.raises(ValidationError, match="prot"):
        Settings()


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_CONFIG", "/nonexistent/civicgrid.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/civicgrid\.toml"):
        Settings()


def test_secrets_are_not_printed() -> None:
    s = Settings(api={"jwt_secret": "jwt-" + "s" * 40}, mqtt={"password": "mqtt-" + "p" * 40},
                 db={"url": "postgresql://civicgrid:db-pass-0123456789abcdefghij@127.0.0.1:1/civicgrid"})
    assert all(secret not in repr(s) for secret in ("jwt-", "mqtt-", "db-pass"))


def test_retention_for_one_topic_keeps_the_others_defaults(tmp_path: Path) -> None:
    (tmp_path / "civicgrid.toml").write_text('[kafka.retention."cg.deadletter"]\nhours = 2160\n'
                                             'mb_per_partition = 4096\n')
    kafka = load_settings().kafka
    assert kafka.retention_of("cg.deadletter").topic_config() == {
        "cleanup.policy": "delete", "retention.ms": str(2160 * 3_600_000), "retention.bytes": str(4096 * 1024 * 1024)}
    assert kafka.retention_of("cg.telemetry").hours == 72  # still the default


def test_unknown_topic_in_retention_is_an_error_naming_it() -> None:
    with pytest.raises(ValidationError, match=r"no such platform topic: cg\.telemtry"):
        Settings(kafka={"retention": {"cg.telemtry": {"hours": 1}}})


def test_a_gateway_outside_its_fleet_is_refused_naming_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_GATEWAY__INSTANCES", "2")
    monkeypatch.setenv("CIVICGRID_GATEWAY__INSTANCE", "1")
    assert (load_settings().gateway.instance, load_settings().gateway.instances) == (1, 2)
    monkeypatch.setenv("CIVICGRID_GATEWAY__INSTANCE", "2")
    with pytest.raises(ValidationError, match=r"gateway.instance 2 is not one of 0 … 1 \(gateway.instances = 2\)"):
        load_settings()
