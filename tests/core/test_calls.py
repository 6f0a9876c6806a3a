from __future__ import annotations

import pytest

from app.core.calls import CallDirection, CallOutcome, call_summary, format_duration


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (5, "0:05"), (125, "2:05"), (3723, "1:02:03")]
)
def test_durations_read_like_a_phone_log(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_a_customer_call_nobody_took_is_missed_and_notifies(status: str) -> None:
    summary = call_summary(CallDirection.FROM_CUSTOMER, status, 0)
    assert summary.outcome is CallOutcome.MISSED
    assert summary.notify
    assert summary.text == "Missed call from the customer"


def test_an_answered_call_carries_its_length_and_does_not_notify() -> None:
    summary = call_summary(CallDirection.FROM_CUSTOMER, "completed", 61)
    assert (summary.outcome, summary.duration_s, summary.notify) == (
        CallOutcome.ANSWERED,
        61,
        False,
    )
    assert summary.text == "Phone call from the customer, answered (1:01)"
    assert summary.to_attributes("CA1")["Outcome"] == "answered"


def test_a_completed_call_of_no_length_was_not_answered() -> None:
    assert call_summary(CallDirection.FROM_CUSTOMER, "completed", 0).notify


def test_the_store_calling_out_never_notifies() -> None:
    missed = call_summary(CallDirection.FROM_STORE, "no-answer", 0)
    assert not missed.notify
    assert missed.text == "The store called the customer: no answer"
