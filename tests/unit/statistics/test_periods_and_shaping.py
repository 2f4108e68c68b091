"""Periods (bounds, labels, the previous period) and the pure shaping of counted rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from civicgrid.statistics.periods import BadPeriod, PeriodKind, date_range, last_complete, period_of
from civicgrid.statistics.shaping import Bucket, Totals, bucket_for, bucket_starts, counts, trend
from civicgrid.store.statistics import CountRow, Dimension


@pytest.mark.parametrize(("kind", "day", "first", "last", "label", "previous_first"), [
    (PeriodKind.DAY, date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 1), "2024年3月1日", date(2024, 2, 29)),
    (PeriodKind.XUN, date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 10), "2024年3月上旬", date(2024, 2, 21)),
    (PeriodKind.XUN, date(2024, 3, 15), date(2024, 3, 11), date(2024, 3, 20), "2024年3月中旬", date(2024, 3, 1)),
    (PeriodKind.XUN, date(2024, 2, 29), date(2024, 2, 21), date(2024, 2, 29), "2024年2月下旬", date(2024, 2, 11)),
    (PeriodKind.MONTH, date(2024, 1, 31), date(2024, 1, 1), date(2024, 1, 31), "2024年1月", date(2023, 12, 1)),
    (PeriodKind.YEAR, date(2024, 7, 7), date(2024, 1, 1), date(2024, 12, 31), "2024年", date(2023, 1, 1)),
])
def test_period_of(kind, day, first, last, label, previous_first) -> None:
    p = period_of(kind, day)
    assert (p.first, p.last, p.label, p.previous().first) == (first, last, label, previous_first)
    assert p.start.utcoffset().total_seconds() == 8 * 3600 and p.end.date() == last + timedelta(days=1)


def test_bounds_are_local_midnights() -> None:
    p = period_of(PeriodKind.MONTH, date(2024, 2, 10))
    assert p.start.isoformat() == "2024-02-01T00:00:00+08:00" and p.end.isoformat() == "2024-03-01T00:00:00+08:00"


def test_range_and_its_previous() -> None:
    r = date_range(date(2024, 3, 5), date(2024, 3, 11))
    assert (r.days, r.previous().first, r.previous().last) == (7, date(2024, 2, 27), date(2024, 3, 4))
    assert r.label == "2024-03-05至2024-03-11"
    with pytest.raises(BadPeriod, match="after"):
        date_range(date(2024, 3, 5), date(2024, 3, 4))
    with pytest.raises(BadPeriod, match="366"):
        date_range(date(2024, 1, 1), date(2025, 1, 1))
    with pytest.raises(BadPeriod, match="between"):
        period_of(PeriodKind.DAY, date(1999, 12, 31))
    with pytest.raises(BadPeriod, match="range"):
        period_of(PeriodKind.RANGE, date(2024, 1, 1))


def test_last_complete_period_is_the_one_before_today() -> None:
    assert last_complete(PeriodKind.MONTH, date(2026, 12, 1)).label == "2026年11月"
    assert last_complete(PeriodKind.XUN, date(2026, 12, 11)).label == "2026年12月上旬"
    assert last_complete(PeriodKind.DAY, date(2026, 1, 1)).label == "2025年12月31日"
    assert last_complete(PeriodKind.YEAR, date(2026, 6, 1)).label == "2025年"


def test_rates_are_none_without_a_denominator() -> None:
    assert Totals(0, 0, 0, 0).closure_rate is None and Totals(0, 0, 0, 0).on_time_closure_rate is None
    t = Totals(cases=10, closed=6, closed_on_time=3, cancelled=2)
    assert (t.open, t.closure_rate, t.on_time_closure_rate) == (2, 0.75, 0.5)


def test_counts_name_keys_and_shares() -> None:
    rows = [CountRow("hotline", None, 3, 0, 0, 0), CountRow(None, None, 1, 0, 0, 0)]
    out = counts(Dimension.SOURCE, rows, 4)
    assert [(c.name, c.share) for c in out] == [("12319热线", 0.75), ("未知", 0.25)]
    assert counts(Dimension.CELL, [CountRow(None, None, 2, 0, 0, 0)], 2)[0].name == "无网格"
    assert counts(Dimension.CATEGORY, rows, 0)[0].share is None


def test_weeks_start_on_monday_and_long_periods_use_them() -> None:
    year = period_of(PeriodKind.YEAR, date(2019, 5, 5))
    assert bucket_for(year) is Bucket.WEEK and bucket_for(period_of(PeriodKind.MONTH, date(2019, 5, 5))) is Bucket.DAY
    starts = bucket_starts(year, Bucket.WEEK)
    assert starts[0] == date(2018, 12, 31) and starts[-1] == date(2019, 12, 30) and len(starts) == 53


def test_trend_pairs_buckets_by_position() -> None:
    march = period_of(PeriodKind.MONTH, date(2024, 3, 1))
    t = trend(march, march.previous(), Bucket.DAY, {date(2024, 3, 31): 4, date(2024, 3, 1): 1},
              {date(2024, 2, 1): 2, date(2024, 2, 29): 3})
    assert len(t.points) == 31 and (t.cases, t.previous_cases, t.change) == (5, 5, 0.0)
    assert (t.points[0].previous_start, t.points[0].previous_cases) == (date(2024, 2, 1), 2)
    assert (t.points[30].cases, t.points[30].previous_start) == (4, None)
    assert trend(march, march.previous(), Bucket.DAY, {}, {}).change is None
    assert isinstance(march.start, datetime)
