"""A lead edit refused with 412 against the relay's current lead (`app.sync.conflict`)."""

from __future__ import annotations

from typing import Any

from app.core.wire import LeadView
from app.sync.conflict import AlreadyThere, Conflict, Rebased, resolve
from tests.sync.fake_relay import lead_data


def current(version: int, pipeline: str = "new", assignee: str | None = None) -> LeadView:
    return LeadView.model_validate(lead_data("lead1", "CH1", version=version, pipeline=pipeline,
                                             assignee=assignee))


def edit(patch: dict[str, Any], base: dict[str, Any], base_version: int = 1,
         **extra: Any) -> dict[str, Any]:
    return {"patch": patch, "base": base, "baseVersion": base_version, **extra}


def test_a_field_the_other_side_left_alone_is_rebased() -> None:
    payload = edit({"status": "won"}, {"status": "new"}, noteAuthor="Sam Staff")
    outcome = resolve(payload, current(3, pipeline="new", assignee="kim"), attempt=1)
    assert isinstance(outcome, Rebased)
    assert outcome.payload == {**payload, "baseVersion": 3, "base": {"status": "new"}}


def test_the_same_field_changed_elsewhere_is_a_conflict_unless_forced() -> None:
    payload = edit({"status": "won"}, {"status": "new"})
    outcome = resolve(payload, current(3, pipeline="lost"), attempt=1)
    assert isinstance(outcome, Conflict) and "pipeline status" in (outcome.message or "")
    forced = resolve({**payload, "force": True}, current(3, pipeline="lost"), attempt=1)
    assert isinstance(forced, Rebased) and forced.payload["base"] == {"status": "lost"}


def test_values_already_there_need_no_request_but_a_note_does() -> None:
    payload = edit({"status": "won", "assigneeId": "kim"}, {"status": "new", "assigneeId": None})
    assert isinstance(resolve(payload, current(4, "won", "kim"), attempt=1), AlreadyThere)
    with_note = edit({"status": "won", "note": "called"}, {"status": "new"})
    outcome = resolve(with_note, current(4, "won"), attempt=1)
    assert isinstance(outcome, Rebased) and outcome.payload["patch"] == {"note": "called"}


def test_a_version_that_does_not_move_gives_up_after_a_few_attempts() -> None:
    payload = edit({"note": "called"}, {}, base_version=5)
    assert isinstance(resolve(payload, current(5), attempt=3), Rebased)
    assert resolve(payload, current(5), attempt=4) == Conflict(None)
