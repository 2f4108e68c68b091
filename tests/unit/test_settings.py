"""Settings: defaults, environment, TOML file and typo detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

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


def test_a_service_subprocess_gets_every_setting_a_test_changed(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """as_environment carries whole settings, so a simulated clock, a rule pack or a JT/T 808 port set by a test
    or benchmark reaches the process it starts (the JT/T 808, carrier, notify and clock sections and the top-level
    settings did not)."""
    from datetime import UTC, datetime

    from civicgrid.stack.ephemeral import as_environment

    monkeypatch.setenv("CIVICGRID_MQTT__PASSWORD", "a-gateway-password-of-length")
    base = Settings()
    changed = base.model_copy(update={
        "rules_dir": tmp_path, "address_prefixes": ("安徽省", "六安市"),
        "jt808": base.jt808.model_copy(update={"listen_port": 28808}),
        "clock": base.clock.model_copy(update={"start": datetime(2026, 3, 1, tzinfo=UTC), "speed": 600.0}),
        "notify": base.notify.model_copy(update={"webhook_secret": SecretStr("a-webhook-secret-long-enough")})})
    for variable, value in as_environment(changed).items():
        monkeypatch.setenv(variable, value)
    again = Settings()
    assert again.model_dump(mode="json") == changed.model_dump(mode="json")
    assert again.notify.webhook_secret is not None
    assert again.notify.webhook_secret.get_secret_value() == "a-webhook-secret-long-enough"
