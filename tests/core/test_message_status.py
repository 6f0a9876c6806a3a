"""Message status order: forward only, failed/undelivered final, reordering ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.message_status import (
    FINAL_STATUSES,
    MessageStatus,
    advance,
    fold,
    is_final,
    parse_status,
)

Q, SENDING, SENT, DELIVERED, READ, FAILED, UNDELIVERED = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.FAILED,
    MessageStatus.UNDELIVERED,
)
FORWARD = [Q, SENDING, SENT, DELIVERED, READ]
statuses = st.sampled_from(MessageStatus)


def test_order() -> None:
    assert [s.rank for s in FORWARD] == sorted({s.rank for s in FORWARD})
    assert {FAILED, UNDELIVERED} == FINAL_STATUSES
    assert is_final(FAILED) and is_final(UNDELIVERED)
    assert not any(is_final(s) for s in FORWARD)


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (Q, SENT, SENT),
        (SENT, DELIVERED, DELIVERED),
        (DELIVERED, SENT, DELIVERED),  # late "sent" after "delivered"
        (READ, DELIVERED, READ),
        (SENT, SENT, SENT),
        (DELIVERED, UNDELIVERED, UNDELIVERED),  # carriers do report failure late
        (READ, FAILED, FAILED),
        (FAILED, DELIVERED, FAILED),
        (UNDELIVERED, READ, UNDELIVERED),
        (FAILED, UNDELIVERED, FAILED),
        (UNDELIVERED, FAILED, UNDELIVERED),
    ],
)
def test_advance_examples(
    current: MessageStatus, new: MessageStatus, expected: MessageStatus
) -> None:
    assert advance(current, new) is expected


@given(statuses, statuses)
def test_final_never_changes(current: MessageStatus, new: MessageStatus) -> None:
    if current.is_final:
        assert advance(current, new) is current


@given(statuses, statuses)
def test_never_backwards(current: MessageStatus, new: MessageStatus) -> None:
    result = advance(current, new)
    assert result in (current, new)
    assert result.rank >= current.rank


@given(st.lists(statuses, max_size=20))
def test_sequence_result(updates: list[MessageStatus]) -> None:
    result = fold(updates)
    finals = [s for s in updates if s.is_final]
    if finals:
        # the first final status wins, whatever came after it
        assert result is finals[0]
    else:
        assert result.rank == max((s.rank for s in updates), default=Q.rank)
        assert result in [*updates, Q]


@given(st.lists(st.sampled_from(FORWARD), max_size=12), st.randoms())
def test_order_of_arrival_does_not_matter_without_failures(
    updates: list[MessageStatus], rnd: object
) -> None:
    shuffled = list(updates)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(shuffled) is fold(updates)


@given(st.lists(statuses, max_size=12))
def test_idempotent_duplicates(updates: list[MessageStatus]) -> None:
    doubled = [s for s in updates for _ in range(2)]
    assert fold(doubled) is fold(updates)


def test_fold_start() -> None:
    assert fold([], start=SENT) is SENT
    assert fold([Q, SENDING], start=SENT) is SENT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delivered", DELIVERED),
        (" Delivered ", DELIVERED),
        ("UNDELIVERED", UNDELIVERED),
        ("accepted", Q),
        ("scheduled", Q),
        ("canceled", None),
        ("", None),
        ("bogus", None),
    ],
)
def test_parse_status(text: str, expected: MessageStatus | None) -> None:
    assert parse_status(text) is expected


@given(st.text(max_size=20))
def test_parse_status_never_raises(text: str) -> None:
    result = parse_status(text)
    assert result is None or isinstance(result, MessageStatus)
