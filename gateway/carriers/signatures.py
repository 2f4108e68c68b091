"""The platforms' proofs that a push came from them.

OneNET (HTTP push, 数据推送): with a token configured on both sides, every push carries ``nonce`` and
``msg_signature`` (URL verification: ``nonce`` and ``signature``), where the signature is
Base64(MD5(token + nonce + msg)) and ``msg`` is the message text exactly as sent. MD5 is the platform's choice,
not ours; the token is the secret and a nonce is at most a few characters, so the receiver must keep the token
long and check over TLS.
CTWing/AEP's HTTP subscription push carries no signature: the subscription URL is the only thing the tenant
configures, so it carries a token of ours (``?token=``) compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def onenet_signature(token: str, nonce: str, msg: str) -> str:
    return base64.b64encode(hashlib.md5((token + nonce + msg).encode()).digest()).decode("ascii")


def onenet_valid(token: str, nonce: str, msg: str, signature: str) -> bool:
    # A "+" of the Base64 arrives as a space when the platform did not percent-encode the query string.
    given = signature.replace(" ", "+").encode()
    return hmac.compare_digest(onenet_signature(token, nonce, msg).encode(), given)


def token_valid(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
