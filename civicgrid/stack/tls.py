"""The local stack's own certificate authority and the MQTT broker's server certificate, under ``<var>/tls``.

Devices reach a city's broker over public mobile networks, so the local stack serves MQTT over TLS
too (``stack.mqtt_tls_port``) and the simulated city connects that way in ``make run``. The first
start makes a CA (ECDSA P-256, ten years) and a server certificate for ``localhost`` and the
broker's address (two years), with the cryptography library; later starts reuse them. A device
trusts ``ca.crt``; in production the city's own PKI takes this place (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from civicgrid.broker.mosquitto_files import write_private


@dataclass(frozen=True, slots=True)
class LocalTls:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def local_tls(directory: Path, host: str) -> LocalTls:
    """The CA and server certificate under `directory`, made on the first call; the server's files belong to
    the broker's user when running as root (Mosquitto reads them after dropping root)."""
    files = LocalTls(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    if all(p.exists() for p in (files.ca_cert, files.server_cert, files.server_key)):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "civicgrid local stack"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "civicgrid local CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for address in {host, "127.0.0.1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=730))
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    write_private(directory / "ca.key", ca_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()), 0o600, for_broker=False)
    write_private(files.server_key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()), 0o600)
    write_private(files.server_cert, server.public_bytes(pem), 0o644)
    write_private(files.ca_cert, ca.public_bytes(pem), 0o644)
    return files

