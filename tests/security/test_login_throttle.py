"""Item 7: failed logins are throttled per user name and per address, with back-off; hashing is bounded."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient

from api.login_throttle import LoginThrottle, Throttled


def test_a_guessed_user_name_gets_429_with_retry_after_before_any_hashing(client: TestClient, as_user) -> None:
    name = f"throttled-{uuid.uuid4().hex[:6]}"
    assert client.post("/users", headers=as_user("api-admin"),
                       json={"username": name, "role": "operator", "password": "the-right-password"}).status_code == 201
    answers = [client.post("/auth/token", data={"username": name, "password": f"guess-{n}"}).status_code
               for n in range(5)]
    assert answers == [401] * 5
    blocked = client.post("/auth/token", data={"username": name, "password": "the-right-password"})
    assert blocked.status_code == 429, blocked.text
    assert int(blocked.headers["Retry-After"]) >= 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_doubles_with_each_failure_and_a_success_clears_it() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures_per_user=3, max_failures_per_address=100, window_s=900, clock=clock)
    waits = []
    for _ in range(6):
        try:
            throttle.check("zhang", "10.0.0.1")
        except Throttled as exc:
            waits.append(exc.retry_after_s)
            clock.now += exc.retry_after_s
        throttle.failed("zhang", "10.0.0.1")
    assert waits == [2, 3, 5]  # 1 s, 2 s, 4 s after the last failure (rounded up)
    throttle.succeeded("zhang")
    throttle.check("zhang", "10.0.0.1")
    clock.now += 901
    throttle.check("ZHANG", "10.0.0.1")  # the window has passed


def test_one_address_guessing_many_names_is_throttled_too() -> None:
    throttle = LoginThrottle(max_failures_per_user=5, max_failures_per_address=4, clock=Clock())
    for n in range(4):
        throttle.failed(f"user-{n}", "203.0.113.9")
    with pytest.raises(Throttled, match="this address"):
        throttle.check("someone-else", "203.0.113.9")
    throttle.check("someone-else", "203.0.113.10")


def test_hashes_run_at_most_n_at_once() -> None:
    throttle = LoginThrottle(max_concurrent_hashes=1, hash_wait_s=0.1)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with throttle.hashing():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    try:
        with pytest.raises(Throttled, match="busy"), throttle.hashing():
            pass
    finally:
        release.set()
        holder.join(5)
    with throttle.hashing():
        pass
