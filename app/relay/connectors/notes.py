"""The transcript flush RLM and DHQ share: every notable message not noted yet goes
to the system once, in order, each settled in the lead item as it goes (so a
failure keeps what was done: the original's `SyncedMessageIds`), plus the Botpress
summary once per lead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from app.relay.connectors.base import (
    IntegrationError,
    integration_data,
    integration_state,
    kept,
    lead_type,
)
from app.relay.connectors.http import CallFailed, Outcome
from app.relay.connectors.once import DataChange, Unconfirmed, post_once
from app.relay.connectors.records import Item, get_conversation, get_lead
from app.relay.connectors.transcript import TranscriptMessage, pending_notes

if TYPE_CHECKING:
    from app.relay.connectors.registry import Connectors
    from app.relay.context import RelayContext

ClientT = TypeVar("ClientT")

SUMMARY_KEY = "botpress-summary"


class NoteTarget(Protocol):
    name: str  # "RLM" | "DHQ"

    def send_note(self, lead: Item, data: dict[str, Any], note: TranscriptMessage) -> Any: ...

    def send_summary(self, lead: Item, data: dict[str, Any], row: dict[str, Any]) -> Any: ...

    def accepted(self, answer: Any) -> bool: ...

    def note_error(self, sid: str) -> str: ...


def _noted(sid: str) -> DataChange:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        ids = [str(x) for x in data.get("SyncedMessageIds") or []]
        return {**data, "SyncedMessageIds": ids if sid in ids else [*ids, sid]}

    return change


def _summary_sent(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "SentBotpressSummary": True}


def send_summary(ctx: RelayContext, lead_id: str, target: NoteTarget) -> None:
    """The chatbot's summary, once, when Botpress found one; a failure only leaves
    `SentBotpressSummary` false (tried again on the next sync), as the original."""
    lead = get_lead(ctx.tables, lead_id) or {}
    data = integration_data(lead, target.name)
    botpress = integration_state(lead, "Botpress")
    row = (botpress.get("Data") or {}).get("Conversation")
    if data.get("SentBotpressSummary") or botpress.get("SyncStatus") != "SYNCED" or not row:
        return
    step = f"{target.name.lower()}_summary"
    try:
        post_once(
            ctx,
            lead_id,
            target.name,
            SUMMARY_KEY,
            step,
            lambda: target.send_summary(lead, data, dict(row)),
            record=lambda answer: _summary_sent if target.accepted(answer) else None,
            on_unconfirmed=lambda key: _summary_sent,
            done=lambda item: bool(integration_data(item, target.name).get("SentBotpressSummary")),
        )
    except (Unconfirmed, CallFailed):
        return


def flush(ctx: RelayContext, lead_id: str, target: NoteTarget) -> None:
    """Note every message not noted yet (each recorded in `Data` as it goes)."""
    lead = get_lead(ctx.tables, lead_id) or {}
    data = integration_data(lead, target.name)
    sid = (integration_data(lead, "Twilio")).get("ConversationSID")
    conversation = get_conversation(ctx.tables, str(sid)) if sid else None
    synced = {str(x) for x in data.get("SyncedMessageIds") or []}
    step = f"{target.name.lower()}_note"
    for note in pending_notes(ctx.tables, lead, conversation, synced):
        try:
            answer = post_once(
                ctx,
                lead_id,
                target.name,
                note.sid,
                step,
                lambda note=note: target.send_note(lead, data, note),  # type: ignore[misc]
                record=lambda answer, sid=note.sid: (
                    _noted(sid) if target.accepted(answer) else None
                ),  # type: ignore[misc]
                on_unconfirmed=_noted,
            )
        except Unconfirmed:
            continue  # settled as noted: sent once or not at all, never twice
        except CallFailed as exc:
            raise _note_failed(ctx, lead_id, target, note, exc.details(), transient(exc)) from None
        if answer is not None and not target.accepted(answer):
            raise _note_failed(ctx, lead_id, target, note, answer, False)


def _send_note(
    ctx: RelayContext,
    lead_id: str,
    target: NoteTarget,
    step: str,
    what: tuple[Item, dict[str, Any], TranscriptMessage],
) -> Any:
    lead, data, note = what

    def record(answer: Any) -> DataChange | None:
        return _noted(note.sid) if target.accepted(answer) else None

    return post_once(
        ctx,
        lead_id,
        target.name,
        note.sid,
        step,
        lambda: target.send_note(lead, data, note),
        record=record,
        on_unconfirmed=_noted,
        done=lambda item: (
            note.sid in (integration_data(item, target.name).get("SyncedMessageIds") or [])
        ),
    )


def transient(exc: CallFailed) -> bool:
    """Try the lead again later: the far side was down or busy (an unknown outcome
    was settled already, so the next pass goes on after it)."""
    return exc.transient or exc.outcome is Outcome.UNKNOWN


def _note_failed(
    ctx: RelayContext,
    lead_id: str,
    target: NoteTarget,
    note: TranscriptMessage,
    response: Any,
    retry: bool,
) -> IntegrationError:
    return IntegrationError(
        target.note_error(note.sid),
        details={"message": note.details(), "response": response},
        transient=retry,
    )


class TranscriptIntegration(Generic[ClientT]):
    """What RLM and DHQ do alike: create the remote lead once (its id in `Data`
    under `remote_key`), then on every create, sync and close send the Botpress
    summary and the transcript notes not sent yet. A subclass names itself and its
    remote id, creates the remote lead and sends one note or summary."""

    name: str
    #: the `Data` key holding the remote lead's id ("LeadUUID" for RLM, "LeadId" for DHQ)
    remote_key: str

    def __init__(self, client: ClientT, connectors: Connectors) -> None:
        self.client = client
        self.connectors = connectors

    def applies(self, ctx: RelayContext, lead: Item) -> bool:
        """Both systems take the leads of the text-me form (type WEB2TEXT)."""
        return lead_type(lead) == "WEB2TEXT"

    def _create_remote(self, ctx: RelayContext, lead: Item) -> None:
        raise NotImplementedError

    def send_note(self, lead: Item, data: dict[str, Any], note: TranscriptMessage) -> Any:
        raise NotImplementedError

    def send_summary(self, lead: Item, data: dict[str, Any], row: dict[str, Any]) -> Any:
        raise NotImplementedError

    def accepted(self, answer: Any) -> bool:
        raise NotImplementedError

    def note_error(self, sid: str) -> str:
        raise NotImplementedError

    def _created(self, lead: Item) -> bool:
        return bool(integration_data(lead, self.name).get(self.remote_key))

    def _send_pending(self, ctx: RelayContext, lead_id: str) -> dict[str, Any]:
        send_summary(ctx, lead_id, self)
        flush(ctx, lead_id, self)
        return kept()

    def create(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        lead_id = str(lead["LeadId"])
        current = get_lead(ctx.tables, lead_id) or lead
        if not self._created(current):
            self._create_remote(ctx, current)
        # the conversation's first messages (greeting, details) at once, rather than
        # on the next message as the original
        return self._send_pending(ctx, lead_id)

    def sync(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        lead_id = str(lead["LeadId"])
        current = get_lead(ctx.tables, lead_id) or lead
        if not self._created(current):
            return self.create(ctx, current)
        twilio = integration_state(current, "Twilio").get("SyncStatus")
        if twilio != "SYNCED":
            raise IntegrationError(
                f"Twilio integration is not in correct state 'SYNCED' to sync {self.name}. "
                f"Current Twilio state is '{twilio}'"
            )
        return self._send_pending(ctx, lead_id)

    def close(self, ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]:
        """The notes not sent yet first (the original closed without them)."""
        lead_id = str(lead["LeadId"])
        current = get_lead(ctx.tables, lead_id) or lead
        if not self._created(current):
            return kept()
        return self._send_pending(ctx, lead_id)
