from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from app.sync.retry import Backoff, parse_retry_after


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    policy = Backoff(base=1.0, factor=2.0, cap=10.0, rng=random.Random(7))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        samples = [policy.delay(attempt) for _ in range(300)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # the whole range is used (jitter, not fixed)
        assert min(samples) < ceiling * 0.2


def test_retry_after_is_a_floor_but_itself_capped() -> None:
    policy = Backoff(base=0.1, cap=1.0, max_retry_after=60.0, rng=random.Random(1))
    assert all(policy.delay(1, retry_after=5.0) == 5.0 for _ in range(20))
    assert policy.delay(1, retry_after=3600.0) == 60.0


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == 30.0
