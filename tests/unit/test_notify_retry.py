"""The notifier's back-off between attempts of one delivery: `notify.backoff_s`, doubling after each failure."""

from __future__ import annotations

from datetime import timedelta

from civicgrid.notify.outbox import Retry


def test_the_backoff_doubles_after_each_failed_attempt() -> None:
    retry = Retry(max_attempts=6, backoff_s=30)
    assert [retry.after(n) for n in range(1, 6)] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert retry.after(0) == timedelta(seconds=30)  # never sooner than the back-off
