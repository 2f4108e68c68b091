"""Every Kafka client gets its security settings from one place (civicgrid/bus/clients.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

from civicgrid.bus import clients
from civicgrid.settings import KafkaSettings

CA = Path("/etc/ssl/certs/ca-certificates.crt")


def test_plaintext_is_the_bare_bootstrap() -> None:
    kafka = KafkaSettings(bootstrap_servers="k1:9092,k2:9092")
    assert clients.librdkafka(kafka, {"linger.ms": 5}) == {"bootstrap.servers": "k1:9092,k2:9092",
                                                          "security.protocol": "plaintext", "linger.ms": 5,
                                                          "socket.nagle.disable": True}
    assert clients.aiokafka(kafka, group_id="g") == {"bootstrap_servers": "k1:9092,k2:9092",
                                                     "security_protocol": "PLAINTEXT", "group_id": "g"}


def test_sasl_over_tls_reaches_every_client_library() -> None:
    kafka = KafkaSettings(bootstrap_servers="k1:9093", security_protocol="SASL_SSL", ssl_ca_file=CA,
                          sasl_mechanism="SCRAM-SHA-512", sasl_username="civicgrid", sasl_password="s" * 30)
    config = clients.librdkafka(kafka)
    assert (config["security.protocol"], config["ssl.ca.location"], config["sasl.mechanism"],
            config["sasl.username"], config["sasl.password"]) == ("sasl_ssl", str(CA), "SCRAM-SHA-512", "civicgrid",
                                                                  "s" * 30)
    options = clients.aiokafka(kafka)
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert (options["security_protocol"], options["sasl_mechanism"], options["sasl_plain_username"],
            options["sasl_plain_password"]) == ("SASL_SSL", "SCRAM-SHA-512", "civicgrid", "s" * 30)
