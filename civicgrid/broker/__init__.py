"""MQTT broker accounts and ACLs for devices and services.

The local stack and the CLI use Mosquitto's password and ACL files: the files
are generated from the device registry (never from secrets: the registry keeps
only Mosquitto-format PBKDF2 hashes) and the broker reloads them on SIGHUP.
"""

from civicgrid.broker.accounts import (
    BrokerAccount,
    device_account,
    hash_secret,
    render_acl_file,
    render_password_file,
    service_account,
    verify_secret,
)

__all__ = [
    "BrokerAccount",
    "device_account",
    "hash_secret",
    "render_acl_file",
    "render_password_file",
    "service_account",
    "verify_secret",
]
