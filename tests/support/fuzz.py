"""What the gateways' fuzz tests (tests/security/test_fuzz_*.py) do to a TCP peer's bytes."""

from __future__ import annotations

import socket


def send_over_tcp(port: int, payload: bytes) -> None:
    """Send `payload` to the gateway on loopback, close our side, and read its answers until it closes its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(65536):
            pass


def flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    """`data` with the byte at each position (modulo its length) set to the value given."""
    out = bytearray(data)
    for at, value in flips:
        out[at % len(out)] = value
    return bytes(out)
