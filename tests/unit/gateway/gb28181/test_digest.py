"""Digest authentication: RFC 2617's worked example, a device's REGISTER credentials, nonces, passwords."""

from __future__ import annotations

from gateway.gb28181 import digest

# RFC 2617 §3.5: the example exchange (qop=auth).
RFC2617 = ('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
           'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", '
           'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"')


def test_rfc2617_example_response() -> None:
    c = digest.parse_authorization(RFC2617)
    assert c is not None and (c.username, c.qop, c.nc, c.cnonce) == ("Mufasa", "auth", "00000001", "0a4f113b")
    assert digest.expected_response(c, "GET", "Circle Of Life") == "6629fae49393a05397450978507c4ef1"
    assert digest.response_matches(c, "GET", "Circle Of Life")
    assert not digest.response_matches(c, "GET", "Circle of Life")


def test_register_credentials_without_qop_as_gb28181_devices_send_them() -> None:
    """RFC 2069 form (no qop) in the GB/T 28181-2016 annex's layout: response = MD5(HA1:nonce:HA2)."""
    import hashlib

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    uri, nonce = "sip:34020000002000000001@3402000000", "9bd055"
    expected = md5(f"{md5('34020000001320000001:3402000000:12345678')}:{nonce}:{md5('REGISTER:' + uri)}")
    header = (f'Digest username="34020000001320000001", realm="3402000000", nonce="{nonce}", uri="{uri}", '
              f'response="{expected}", algorithm=MD5')
    c = digest.parse_authorization(header)
    assert c is not None and digest.response_matches(c, "REGISTER", "12345678")
    assert not digest.response_matches(c, "REGISTER", "12345679")
    assert not digest.response_matches(c, "MESSAGE", "12345678")


def test_authorization_that_is_not_digest_or_lacks_fields() -> None:
    assert digest.parse_authorization('Basic QWxhZGRpbjpvcGVu') is None
    assert digest.parse_authorization('Digest username="a", realm="b", nonce="c", uri="d"') is None  # no response


def test_nonces_are_ours_stale_after_their_ttl_and_forgeries_are_refused() -> None:
    nonces = digest.Nonces(b"k" * 32, ttl_s=300)
    nonce = nonces.issue(1000.0)
    assert nonces.check(nonce, 1100.0) == "ok"
    assert nonces.check(nonce, 1301.0) == "stale"
    assert digest.Nonces(b"other" * 8, 300).check(nonce, 1100.0) == "forged"
    assert nonces.check("ffff." + nonce.split(".")[1], 1100.0) == "forged"
    assert nonces.check("not-a-nonce", 1100.0) == "forged"
    assert 'stale=true' in digest.challenge("3402000000", nonce, stale=True)


def test_sip_password_is_derived_from_the_secret_hash_and_changes_with_it() -> None:
    one = digest.sip_password("34020000001320000001", "$7$101$abc")
    assert len(one) == digest.PASSWORD_LENGTH and one == digest.sip_password("34020000001320000001", "$7$101$abc")
    assert one != digest.sip_password("34020000001320000001", "$7$101$abd")
    assert one != digest.sip_password("34020000001320000002", "$7$101$abc")
