"""One place that turns the Kafka settings into each client library's configuration, security included.

A city's Kafka may require TLS and SASL (`kafka.security_protocol`, `kafka.ssl_ca_file`,
`kafka.sasl_*`); every producer, consumer and admin client of every service takes its
connection settings from here, so none of them can be left talking plaintext: librdkafka's
dotted keys (confluent-kafka) and aiokafka's keyword arguments.
"""

from __future__ import annotations

import ssl
from typing import Any

from civicgrid.settings import KafkaSettings

# librdkafka leaves Nagle's algorithm on (Kafka's Java clients turn it off): a small produce request then waits for
# the broker's delayed ACK, and the gateway measured 200 ms from produce to acknowledgement at 3,000 msg/s.
NO_NAGLE = {"socket.nagle.disable": True}
# Every producer of records a device or the platform depends on: when librdkafka resends after a broker restart, the
# broker takes each batch once and in a partition's order (a resent batch behind a newer one would replay readings
# to the alarm rules, or land an alarm's clear before its raise). Spread into a producer's own settings.
IDEMPOTENT = {"acks": "all", "enable.idempotence": True}


def librdkafka(kafka: KafkaSettings | str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """confluent-kafka's configuration: bootstrap servers, Nagle off, security, then `extra` (dotted librdkafka
    keys). A bare bootstrap address (the local stack, tests) is a plaintext cluster."""
    if isinstance(kafka, str):
        return {"bootstrap.servers": kafka, **NO_NAGLE, **(extra or {})}
    config: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap_servers, **NO_NAGLE,
                              "security.protocol": kafka.security_protocol.lower()}
    if kafka.ssl_ca_file is not None:
        config["ssl.ca.location"] = str(kafka.ssl_ca_file)
    if kafka.sasl_mechanism is not None:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username or ""
        config["sasl.password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    return {**config, **(extra or {})}


def aiokafka(kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """aiokafka's keyword arguments for a consumer or producer, then `extra`."""
    options: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap_servers,
                               "security_protocol": kafka.security_protocol}
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(kafka.ssl_ca_file) if kafka.ssl_ca_file else None)
    if kafka.sasl_mechanism is not None:
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
    return {**options, **extra}

