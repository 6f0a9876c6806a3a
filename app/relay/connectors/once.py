"""One POST toward a system, at most once per step key (see `progress.py`).

`post_once` claims the step (intent recorded), sends, and settles with the
answer in one more write; a crash between the two leaves the intent, which the
next attempt finds:

- when the far side cannot be asked, the step is settled *unconfirmed* and not
  sent again (`Unconfirmed`): the system holds it once or not at all, and the
  lead shows it (`ConnectorProgress.<Name>.Unconfirmed`);
- a connector that can ask (DHQ: the lead's `external_id`) resolves the intent
  itself before calling `post_once` (`keep_unknown=True` leaves it for that).

An answer that says nothing was done (refused connection, an error status)
clears the intent: the step may be sent again later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.relay.connectors.http import CallFailed, Outcome
from app.relay.connectors.progress import (
    AlreadyDone,
    Claimed,
    InFlight,
    claim,
    give_up,
    in_flight,
    settle,
    unconfirmed,
)
from app.relay.connectors.records import Item, get_lead
from app.relay.integrations import RetryLater, _step

if TYPE_CHECKING:
    from app.relay.context import RelayContext

R = TypeVar("R")
DataChange = Callable[[dict[str, Any]], dict[str, Any]]


class Unconfirmed(Exception):
    """The step's outcome is unknown and it is not sent again."""

    def __init__(self, key: str, cause: CallFailed | None = None) -> None:
        super().__init__(f"{key}: outcome unknown")
        self.key = key
        self.cause = cause


def _budget(ctx: RelayContext, name: str) -> float:
    connectors = ctx.connectors
    return float(connectors.budget_s(name)) if connectors is not None else 120.0


def settle_left_over(
    ctx: RelayContext, lead_id: str, name: str, on_unconfirmed: Callable[[str], DataChange | None]
) -> str | None:
    """An intent an earlier attempt left (it died, or lost its answer): settled as
    unconfirmed. Returns its key, or None when there was none. An intent whose
    holder may still be waiting for the answer is left to it (`RetryLater`)."""
    found = in_flight(get_lead(ctx.tables, lead_id) or {}, name)
    if found is None:
        return None
    if found.may_be_live():
        raise RetryLater(f"{name} {found.key} is being sent")
    settle(
        ctx.tables,
        lead_id,
        name,
        found.token,
        data=on_unconfirmed(found.key),
        unconfirmed_key=found.key,
    )
    return found.key


def post_once(
    ctx: RelayContext,
    lead_id: str,
    name: str,
    key: str,
    step: str,
    post: Callable[[], R],
    *,
    record: Callable[[R], DataChange | None],
    on_unconfirmed: Callable[[str], DataChange | None],
    done: Callable[[Item], bool] | None = None,
    keep_unknown: bool = False,
    mark_done: bool = False,
) -> R | None:
    """Send `post()` for step `key` unless it was sent before with an unknown
    outcome; `record(answer)` is the change to `Data` written with the answer
    (None: the answer says nothing was done; the intent is cleared). `done(lead)`:
    the step is recorded as done (another holder of the lead sent it meanwhile):
    nothing is sent and None is returned."""
    left = settle_left_over(ctx, lead_id, name, on_unconfirmed)
    lead = get_lead(ctx.tables, lead_id) or {"LeadId": lead_id}
    if left == key or key in unconfirmed(lead, name):
        raise Unconfirmed(key)
    # the lead's lock still ours, before anything is recorded or sent (a connector step
    # does not stop for a close asked meanwhile: the close flushes the same steps)
    _step(ctx, lead, f"before_claim_{step}", closing=True)
    mine = _claim(ctx, lead_id, name, step, key, done)
    if mine is None:
        return None
    ctx.checkpoint(f"before_{step}")  # recorded, not sent
    try:
        answer = post()
    except CallFailed as exc:
        _settle_failed(ctx, lead_id, name, key, mine.token, exc, keep_unknown, on_unconfirmed)
        raise
    ctx.checkpoint(f"after_{step}")  # sent, not recorded
    change = record(answer)
    done_key = key if mark_done and change is not None else None
    settle(ctx.tables, lead_id, name, mine.token, data=change, done_key=done_key)
    _step(ctx, lead, f"after_{step}_recorded")  # a lock lost meanwhile stops the pass here
    return answer


def _claim(
    ctx: RelayContext,
    lead_id: str,
    name: str,
    step: str,
    key: str,
    done: Callable[[Item], bool] | None,
) -> InFlight | None:
    """The intent recorded as ours; None when the step is already done."""
    try:
        return claim(
            ctx.tables,
            lead_id,
            name,
            step,
            key,
            done or (lambda item: False),
            budget_s=_budget(ctx, name),
        )
    except AlreadyDone:
        return None
    except Claimed as race:  # another holder is sending now: leave the step to it
        raise RetryLater(f"{name} {race.found.key} is being sent") from None


def _settle_failed(
    ctx: RelayContext,
    lead_id: str,
    name: str,
    key: str,
    token: str,
    exc: CallFailed,
    keep_unknown: bool,
    on_unconfirmed: Callable[[str], DataChange | None],
) -> None:
    """After a failed call: an unknown outcome is unconfirmed (or left to the
    connector that can ask); a known failure clears the intent."""
    if exc.outcome is not Outcome.UNKNOWN:
        settle(ctx.tables, lead_id, name, token)
    elif keep_unknown:
        give_up(ctx.tables, lead_id, name, token)
    else:
        settle(
            ctx.tables,
            lead_id,
            name,
            token,
            data=on_unconfirmed(key),
            unconfirmed_key=key,
        )
