"""HTTP Digest authentication of REGISTER (RFC 3261 §22.4, RFC 2617 §3.2), and the devices' SIP passwords.

GB/T 28181-2016 (registration, 注册): the device registers without credentials, the platform answers 401 with a
`WWW-Authenticate: Digest realm, nonce`, the device registers again with `Authorization: Digest username,
realm, nonce, uri, response` (MD5; qop=auth when offered). Pure: the clock and the key come in.

**Passwords.** The registry keeps only a PBKDF2 hash of each device's secret (civicgrid/store/devices.py), and
Digest needs the password itself on the server. So a GB/T 28181 device's SIP password is derived from what the
registry holds, as JT/T 808 authentication codes are (gateway/jt808/auth.py): HMAC-SHA256 keyed with the secret
hash over the device id, 16 base32 characters (80 bits; cameras' password fields are often limited to 16-32).
``civicgrid devices gb28181-password ID`` prints it for the camera's configuration; ``devices rotate-secret``
changes it; the gateway writes nothing.

**Nonces** are stateless: the issue time and an HMAC of it under a key made at start, valid `nonce_ttl_s`. An
expired one is answered 401 with `stale=true` (the device retries with the new nonce, RFC 2617 §3.2.1). Within
its lifetime a captured REGISTER could be replayed (no nonce-count is kept): what it would do is register the
same contact again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

PASSWORD_LENGTH = 16
_PAIR = re.compile(r'([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def sip_password(device_id: str, secret_hash: str) -> str:
    digest = hmac.new(secret_hash.encode(), b"gb28181-sip:" + device_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:PASSWORD_LENGTH].lower()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    """A parsed `Authorization: Digest …` header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str = ""
    nc: str = ""
    cnonce: str = ""


def parse_authorization(value: str) -> Credentials | None:
    """The Digest credentials, or None when the header is not Digest or lacks a required field."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    fields = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PAIR.finditer(rest)}
    try:
        return Credentials(fields["username"], fields["realm"], fields["nonce"], fields["uri"],
                           fields["response"].lower(), fields.get("algorithm") or "MD5", fields.get("qop", ""),
                           fields.get("nc", ""), fields.get("cnonce", ""))
    except KeyError:
        return None


def expected_response(c: Credentials, method: str, password: str) -> str:
    """RFC 2617 §3.2.2.1: MD5(HA1:nonce:HA2), or with qop=auth MD5(HA1:nonce:nc:cnonce:qop:HA2)."""
    ha1 = _md5(f"{c.username}:{c.realm}:{password}")
    if c.algorithm.upper() == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{c.nonce}:{c.cnonce}")
    ha2 = _md5(f"{method}:{c.uri}")
    if c.qop:
        return _md5(f"{ha1}:{c.nonce}:{c.nc}:{c.cnonce}:{c.qop}:{ha2}")
    return _md5(f"{ha1}:{c.nonce}:{ha2}")


def response_matches(c: Credentials, method: str, password: str) -> bool:
    return hmac.compare_digest(expected_response(c, method, password), c.response)


class Nonces:
    """Stateless nonces: `<issued hex>.<HMAC of it>`, valid for `ttl_s` seconds of the monotonic `now`."""

    def __init__(self, key: bytes, ttl_s: float) -> None:
        self.key, self.ttl_s = key, ttl_s

    def _mac(self, issued: str) -> str:
        return hmac.new(self.key, issued.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, now: float) -> str:
        issued = f"{int(now * 1000):x}"
        return f"{issued}.{self._mac(issued)}"

    def check(self, nonce: str, now: float) -> str:
        """'ok', 'stale' (ours, expired) or 'forged' (not ours)."""
        issued, _, mac = nonce.partition(".")
        if not issued or not re.fullmatch(r"[0-9a-f]{1,16}", issued) or not hmac.compare_digest(mac, self._mac(issued)):
            return "forged"
        return "ok" if 0 <= now - int(issued, 16) / 1000 <= self.ttl_s else "stale"


def challenge(realm: str, nonce: str, stale: bool = False) -> str:
    """The `WWW-Authenticate` value: MD5 without qop, which every GB/T 28181 device accepts (the 2016 annex's
    examples carry none), `stale=true` after an expired nonce."""
    return f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5' + (", stale=true" if stale else "")
