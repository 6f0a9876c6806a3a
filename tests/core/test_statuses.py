"""Lead/integration/pipeline statuses and the lead-service handler table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.statuses import (
    HANDLER_ALLOWED,
    NONEXISTANT,
    PIPELINE_ORDER,
    AuthorKind,
    ContactMethod,
    ConversationState,
    LeadHandler,
    LeadStatus,
    PipelineStatus,
    PipelineTrigger,
    SyncStatus,
    auto_advance,
    can_move_pipeline,
    check_handler,
    handler_allowed,
)


def test_compatible_string_values() -> None:
    # These strings live in shared DynamoDB items; renaming one breaks other systems.
    assert [s.value for s in LeadStatus] == ["ACTIVE", "SYNCING", "CLOSED"]
    assert [s.value for s in SyncStatus] == ["NOT SYNCED", "SYNCED", "ERROR", "CLOSED"]
    assert NONEXISTANT == "NONEXISTANT"
    assert [c.value for c in ContactMethod] == ["text", "phone"]
    assert [c.value for c in ConversationState] == ["active", "inactive", "closed"]
    assert [a.value for a in AuthorKind] == ["customer", "store", "staff", "system"]
    assert SyncStatus("NOT SYNCED") is SyncStatus.NOT_SYNCED


def test_pipeline_order() -> None:
    assert [p.value for p in PIPELINE_ORDER] == [
        "new",
        "contacted",
        "engaged",
        "appointment",
        "won",
        "lost",
    ]
    ranks = [p.rank for p in PIPELINE_ORDER]
    assert ranks == sorted(ranks)
    assert PipelineStatus.WON.rank == PipelineStatus.LOST.rank
    assert PipelineStatus.WON.is_outcome and PipelineStatus.LOST.is_outcome
    assert not PipelineStatus.APPOINTMENT.is_outcome


pipelines = st.sampled_from(PipelineStatus)


@given(pipelines, pipelines)
def test_staff_may_move_anywhere(current: PipelineStatus, new: PipelineStatus) -> None:
    assert can_move_pipeline(current, new, by_staff=True)


@given(pipelines, pipelines)
def test_automatic_moves_only_forward(current: PipelineStatus, new: PipelineStatus) -> None:
    allowed = can_move_pipeline(current, new, by_staff=False)
    if allowed:
        assert new.rank > current.rank
        assert not current.is_outcome
    elif not current.is_outcome:
        assert new.rank <= current.rank


def test_automatic_examples() -> None:
    assert can_move_pipeline(PipelineStatus.NEW, PipelineStatus.ENGAGED, by_staff=False)
    assert not can_move_pipeline(PipelineStatus.ENGAGED, PipelineStatus.NEW, by_staff=False)
    assert not can_move_pipeline(PipelineStatus.LOST, PipelineStatus.WON, by_staff=False)
    assert not can_move_pipeline(PipelineStatus.WON, PipelineStatus.LOST, by_staff=False)


@pytest.mark.parametrize(
    ("current", "trigger", "expected"),
    [
        ("new", "inbound_message", "engaged"),
        ("contacted", "inbound_message", "engaged"),
        ("engaged", "inbound_message", "engaged"),
        ("appointment", "inbound_message", "appointment"),
        ("won", "inbound_message", "won"),
        ("lost", "inbound_message", "lost"),
        ("new", "outbound_message", "contacted"),
        ("contacted", "outbound_message", "contacted"),
        ("engaged", "outbound_message", "engaged"),
        ("lost", "outbound_message", "lost"),
    ],
)
def test_auto_advance(current: str, trigger: str, expected: str) -> None:
    result = auto_advance(PipelineStatus(current), PipelineTrigger(trigger))
    assert result is PipelineStatus(expected)


@given(pipelines, st.sampled_from(PipelineTrigger))
def test_auto_advance_never_goes_back(current: PipelineStatus, trigger: PipelineTrigger) -> None:
    result = auto_advance(current, trigger)
    assert result.rank >= current.rank
    if current.is_outcome:
        assert result is current


# --------------------------------------------------------------------------- handler table

ALL_STATES: list[LeadStatus | None] = [None, *LeadStatus]


@pytest.mark.parametrize(
    ("handler", "status", "allowed", "http", "reason"),
    [
        ("create", None, True, 200, None),
        ("create", LeadStatus.ACTIVE, False, 409, "lead_exists"),
        ("create", LeadStatus.SYNCING, False, 409, "lead_exists"),
        ("create", LeadStatus.CLOSED, False, 409, "lead_exists"),
        ("status", None, True, 200, None),
        ("status", LeadStatus.ACTIVE, True, 200, None),
        ("status", LeadStatus.SYNCING, True, 200, None),
        ("status", LeadStatus.CLOSED, True, 200, None),
        ("sync", None, False, 409, "lead_not_found"),
        ("sync", LeadStatus.ACTIVE, True, 200, None),
        ("sync", LeadStatus.SYNCING, True, 200, None),
        ("sync", LeadStatus.CLOSED, False, 409, "invalid_status"),
        ("close", None, False, 409, "lead_not_found"),
        ("close", LeadStatus.ACTIVE, True, 200, None),
        ("close", LeadStatus.SYNCING, True, 200, None),
        ("close", LeadStatus.CLOSED, True, 200, None),
    ],
)
def test_handler_table(
    handler: str, status: LeadStatus | None, allowed: bool, http: int, reason: str | None
) -> None:
    lead_id = "7a1c54d4-2f0e-4e0b-9d1b-3c2f1f0a9e11"
    decision = check_handler(LeadHandler(handler), status, lead_id)
    assert decision.allowed is allowed
    assert decision.http_status == http
    assert decision.reason == reason
    assert handler_allowed(LeadHandler(handler), status) is allowed
    if not allowed:  # the original's words
        shown = status.value if status else "NONEXISTANT"
        assert decision.message == (
            f"Lead ID '{lead_id}' doesn't exist or is in incorrect status '{shown}'"
        )


def test_handler_table_is_complete() -> None:
    assert set(HANDLER_ALLOWED) == set(LeadHandler)
    for handler in LeadHandler:
        for status in ALL_STATES:
            decision = check_handler(handler, status)
            assert decision.allowed == (status in HANDLER_ALLOWED[handler])
