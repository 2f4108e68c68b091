"""Broker accounts: Mosquitto-compatible hashes and the generated password and ACL files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.broker import (
    device_account,
    hash_secret,
    render_acl_file,
    render_password_file,
    service_account,
    verify_secret,
)
from civicgrid.domain.devices import InvalidDeviceId


def test_hash_matches_the_published_pbkdf2_format() -> None:
    hashed = hash_secret("s3cret", salt=b"0123456789ab")
    assert hashed.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert verify_secret("s3cret", hashed)
    assert not verify_secret("s3cret!", hashed)


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_secret_verifies_against_its_own_hash(secret: str) -> None:
    assert verify_secret(secret, hash_secret(secret))


def test_garbage_hash_never_verifies() -> None:
    assert not verify_secret("x", "not-a-hash")
    assert not verify_secret("x", "$6$1$AA==$AA==")


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto-clients not installed")
def test_hash_written_by_mosquitto_passwd_verifies(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "dev1", "topsecret"], check=True)
    hashed = path.read_text().strip().split(":", 1)[1]
    assert verify_secret("topsecret", hashed)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_secret("")


def test_acl_confines_a_device_to_its_own_topics() -> None:
    acl = render_acl_file([device_account("mh-001", "$7$x"), service_account("gw", "$7$y")])
    assert ("user mh-001\ntopic write cg/mh-001/+\ntopic write cg/mh-001/cmd/ack\ntopic read cg/mh-001/cmd\n"
            "topic read cg/mh-001/refused\n") in acl
    assert ("user gw\ntopic write cg/+/cmd\ntopic write cg/+/refused\ntopic read cg/+/+\n"
            "topic read cg/+/cmd/ack\n") in acl


def test_password_file_is_sorted_one_line_per_account() -> None:
    text = render_password_file([device_account("b", "$7$2"), device_account("a", "$7$1")])
    assert text == "a:$7$1\nb:$7$2\n"


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "dev#", "$SYS", "-lead", "x" * 65, "有"])
def test_device_ids_that_would_break_topics_are_refused(bad: str) -> None:
    with pytest.raises(InvalidDeviceId, match="invalid device id"):
        device_account(bad, "$7$x")
